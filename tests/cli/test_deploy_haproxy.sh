#!/usr/bin/env bash
# deploy/: HAProxy (deploy/haproxy/llamac.cfg, unchanged) in front of three `llamac serve` replicas on loopback.
# Least-connections balancing, conversation affinity (the `user` field or X-Session-Id) that hits the replica's
# prompt cache, server-sent events passed through as they come, health checks, and a replica killed mid-run: its
# streams fail cleanly, every later request succeeds on the others. The replicas run as the systemd unit
# deploy/systemd/llamac-serve@.service.in runs them (its command, with the flags of serve.conf), which passes
# systemd-analyze.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.sh"
DEPLOY="$LLAMAC_SOURCE_DIR/deploy"
for cmd in haproxy systemd-analyze; do
  command -v "$cmd" > /dev/null || { fail "$cmd is missing (scripts/setup.sh installs it)"; finish; exit 1; }
done

# --- the systemd unit (the one `make install` and the package install), configured for this build: ---
# llamac beside it, its /etc in $TMP/etc with the shipped serve.conf, where an administrator sets the model and flags
mkdir -p "$TMP/unit" "$TMP/etc/llamac"
UNIT="$TMP/unit/llamac-serve@.service"
sed "s|@llamac_bindir@|$(dirname "$LLAMAC")|g; s|@llamac_sysconfdir@|$TMP/etc|g" \
  "$DEPLOY/systemd/llamac-serve@.service.in" > "$UNIT"
verify=$(cd "$TMP/unit" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "llamac-serve@8081.service" 2>&1)
expect_eq "systemd unit verifies" "$verify" ""
M="$MODELS/stories260K-chatml.gguf"
flags="-np 2 -t 1 --metrics --slots -q"
sed "s|^LLAMAC_MODEL=.*|LLAMAC_MODEL=$M|; s|^LLAMAC_SERVE_FLAGS=.*|LLAMAC_SERVE_FLAGS=$flags|" \
  "$DEPLOY/systemd/serve.conf" > "$TMP/etc/llamac/serve.conf"

# --- three replicas, each the unit's command for an instance (a free port), and the load balancer ---
pids=()
for r in 1 2 3; do
  port=$(free_port)
  unit_exec "$UNIT" "$port"
  env "${unit_env[@]}" "${unit_argv[@]}" > "$TMP/R$r.out" 2> "$TMP/R$r.log" &
  await_server "R$r" $!
  pids+=("$(eval echo "\$R${r}_PID")")
  expect_eq "replica $r listens on its instance's port, on serve.conf's host" "$(eval echo "\$R${r}_URL")" \
    "http://127.0.0.1:$port"
done
LB="127.0.0.1:$(free_port)"
STATS="127.0.0.1:$(free_port)"
LLAMAC_LB_BIND=$LB LLAMAC_LB_STATS_BIND=$STATS LLAMAC_REPLICA1=${R1_URL#http://} LLAMAC_REPLICA2=${R2_URL#http://} \
  LLAMAC_REPLICA3=${R3_URL#http://} haproxy -db -f "$DEPLOY/haproxy/llamac.cfg" > "$TMP/haproxy.log" 2>&1 &
HA_PID=$!
cleanup() {
  kill "$HA_PID" "${pids[@]}" 2> /dev/null
  wait 2> /dev/null
}
trap cleanup EXIT

# n_up : how many replicas HAProxy's health checks count as up (its Prometheus exporter)
n_up() {
  curl -s "http://$STATS/metrics" | grep -c '^haproxy_server_status{proxy="replicas",server="r[0-9]",state="UP"} 1$'
}
# wait_up N : waits up to 20 s for N replicas up
wait_up() {
  for _ in $(seq 1 200); do
    [ "$(n_up)" = "$1" ] && return 0
    sleep 0.1
  done
  return 1
}
wait_up 3
expect_eq "HAProxy sees three replicas up" "$(n_up)" 3
req GET "http://$LB/health"
expect_eq "/health through the balancer" "$code" 200

# chat USER TURNS_JSON [curl args...] : a non-streaming chat through the balancer as USER (empty: no user field);
# the body goes to $TMP/body, headers to $TMP/headers, status to $code, the replica's name to $replica.
chat() {
  local body
  body=$(jq -nc --arg u "$1" --argjson m "$2" \
    '{messages: $m, max_tokens: 8, temperature: 0} + (if $u == "" then {} else {user: $u} end)')
  shift 2
  code=$(curl -s -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "$body" "$@" "http://$LB/v1/chat/completions")
  replica=$(sed -n 's/^[Xx]-[Ll]lamac-[Rr]eplica: \(r[0-9]\)\r$/\1/p' "$TMP/headers")
}

# stream_start NAME USER MAX_TOKENS : a streaming chat in the background into $TMP/NAME.sse (headers NAME.h); waits
# until its first event has arrived, so the request is open on its replica when this returns.
stream_start() {
  local body
  body=$(jq -nc --arg u "$2" --argjson n "$3" \
    '{messages: [{role: "user", content: "Tell me a story"}], max_tokens: $n, ignore_eos: true, temperature: 0,
      stream: true, user: $u}')
  : > "$TMP/$1.sse"
  curl -s -N --max-time 120 -D "$TMP/$1.h" -H 'Content-Type: application/json' --data-binary "$body" \
    "http://$LB/v1/chat/completions" > "$TMP/$1.sse" 2> /dev/null &
  eval "${1}_PID=$!"
  for _ in $(seq 1 500); do
    grep -q '^data: ' "$TMP/$1.sse" && return 0
    sleep 0.01
  done
}
stream_replica() { sed -n 's/^[Xx]-[Ll]lamac-[Rr]eplica: \(r[0-9]\)\r$/\1/p' "$TMP/$1.h"; }

# --- least connections: three streams open at once go to three different replicas ---
stream_start A ua 1900
stream_start B ub 1900
stream_start C uc 1900
# Server-sent events come through as they are made: the first one arrived while its replica is still generating.
busy_url=$(eval echo "\$R$(stream_replica A | tr -d r)_URL")
req GET "$busy_url/slots"
expect_eq "first event through the balancer while the replica still generates" \
  "$(jqr 'map(select(.state != "idle")) | length > 0')" true
wait "$A_PID" "$B_PID" "$C_PID"
expect_eq "three open streams, three replicas" "$( (stream_replica A; stream_replica B; stream_replica C) | sort -u | wc -l)" 3
for s in A B C; do
  expect_eq "stream $s ends with [DONE]" "$(grep -c '^data: \[DONE\]' "$TMP/$s.sse")" 1
  expect_eq "stream $s is event-stream" "$(grep -ci '^content-type: text/event-stream' "$TMP/$s.h")" 1
done

# --- affinity: a conversation stays on its replica, whose prompt cache the next turn hits ---
T1='[{"role": "user", "content": "Once upon a time there was a dragon who lived in a cave"}]'
chat alice "$T1"
expect_eq "alice turn 1" "$code" 200
alice=$replica
p1=$(jqr .usage.prompt_tokens)
answer=$(jqr '.choices[0].message.content')
T2=$(jq -c --arg a "$answer" '. + [{role: "assistant", content: $a}, {role: "user", content: "What happened next?"}]' \
  <<< "$T1")
same=0
for i in 1 2 3 4 5 6; do
  # other conversations in between move leastconn's round-robin along
  chat "other$i" "[{\"role\": \"user\", \"content\": \"Story $i: a cat and a boat\"}]"
  chat alice "$T2"
  [ "$code" = 200 ] && [ "$replica" = "$alice" ] && same=$((same + 1))
done
expect_eq "alice's six later turns on her replica" "$same" 6
expect_eq "the later turn reuses the whole first turn from the replica's prompt cache" \
  "$(jq -r --argjson p1 "$p1" '.usage.prompt_tokens_details.cached_tokens >= $p1 - 1' "$TMP/body")" true
chat "" "$T1" -H 'X-Session-Id: conv-42'
bob=$replica
same=0
for i in 1 2 3 4; do
  chat "x$i" "[{\"role\": \"user\", \"content\": \"Story $i: a dog and a kite\"}]"
  chat "" "$T2" -H 'X-Session-Id: conv-42'
  [ "$code" = 200 ] && [ "$replica" = "$bob" ] && same=$((same + 1))
done
expect_eq "X-Session-Id keeps a conversation on its replica" "$same" 4

# --- every replica's /metrics for Prometheus, each counting its own work ---
for r in 1 2 3; do
  req GET "$(eval echo "\$R${r}_URL")/metrics"
  expect_eq "replica $r /metrics" "$code" 200
  tokens=$(sed -n 's/^llamacpp:prompt_tokens_total \([0-9.e+]*\)$/\1/p' "$TMP/body")
  expect_eq "replica $r counted prompt tokens" "$(awk -v t="${tokens:-0}" 'BEGIN { print (t > 0) }')" 1
done
expect_contains "HAProxy's own metrics" "$(curl -s "http://$STATS/metrics")" 'haproxy_backend_active_servers{proxy="replicas"} 3'

# --- a replica dies mid-run ---
stream_start D ud 1900
stream_start E ue 1900
stream_start F uf 1900
victim=$(stream_replica D)
vpid=${pids[$((${victim#r} - 1))]}
kill -KILL "$vpid"
wait "$vpid" 2> /dev/null
wait "$D_PID" "$E_PID" "$F_PID"
for s in D E F; do
  done_events=$(grep -c '^data: \[DONE\]' "$TMP/$s.sse")
  if [ "$(stream_replica $s)" = "$victim" ]; then
    expect_eq "stream $s on the killed replica ends without [DONE]" "$done_events" 0
  else
    expect_eq "stream $s on a live replica completes" "$done_events" 1
  fi
done
# at once, before the health checks notice: a refused connection is retried on another replica
ok=0
for i in $(seq 1 12); do
  chat "after$i" "$T1"
  [ "$code" = 200 ] && [ "$replica" != "$victim" ] && ok=$((ok + 1))
done
expect_eq "twelve requests after the kill succeed on the others" "$ok" 12
chat alice "$T2"
expect_eq "alice's conversation continues (on another replica if hers died)" "$code" 200
wait_up 2
expect_eq "HAProxy counts two replicas up" "$(n_up)" 2
req GET "http://$LB/health"
expect_eq "/health through the balancer after the kill" "$code" 200

finish
