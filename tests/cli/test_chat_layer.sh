# The chat layer against llama-server's: every conversation of tests/reference/chat/conversations rendered on every
# template llama.cpp ships, by `llamac serve`'s /apply-template and by `llamac template`, compared byte for byte with
# what the pinned llama-server's /apply-template made of the same request (scripts/gen-reference.sh chat). Where
# llama-server refused the conversation, llamac must refuse it too (400, exit status 1). Dates are normalised here
# only: llama-server put the day it ran in the references (date.txt), llamac puts today's.
#
# Every mismatch is listed and counted; the test fails when a pair of tests/reference/chat/matching.list (pairs known
# to match, growing to all of them) does not match. Each template costs one server, one curl, one jq and one
# `llamac template` run given every request body (--request, one JSON line each), so 3,000 pairs take a minute.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"
M="$MODELS/stories260K.gguf"
C="$REF/chat"
TEMPLATES="${LLAMAC_LLAMA_SOURCE:-}/models/templates"
[ -d "$TEMPLATES" ] || { echo "SKIP: llama.cpp's templates not found in $TEMPLATES" >&2; exit 77; }
export TZ=UTC

# The dates llama-server may have printed, for the day it ran and for today: replaced by <DATE>.
dates=()
for day in "$(cat "$C/date.txt")" "$(date +%Y-%m-%d)"; do
  for fmt in '%Y-%m-%d' '%d %b %Y' '%b %d %Y' '%B %d, %Y'; do
    dates+=("$(date -d "$day" +"$fmt")")
  done
done
# normalized VAR: the value of the variable named VAR with every date replaced, in $norm.
normalized() {
  norm=${!1}
  for d in "${dates[@]}"; do
    norm=${norm//"$d"/<DATE>}
  done
}
# slurp VAR FILE: the exact bytes of FILE (no NUL) into the variable named VAR.
slurp() {
  IFS= read -r -d '' "$1" < "$2" || true
}

declare -A expected=()
while read -r pair; do
  [ -n "$pair" ] && expected[$pair]=1
done < "$C/matching.list"

# The conversations (request bodies as posted to /apply-template), in order.
convs=()
req_args=()
mkdir -p "$TMP/conv"
for conv in "$C"/conversations/*.json; do
  convs+=("$(basename "$conv" .json)")
  req_args+=(--request "$conv")
done

total=0
serve_match=0
template_match=0
# outcome PAIR RENDERER OK: counts a match, reports a mismatch, and fails an expected pair that does not match.
outcome() {
  if [ "$3" = 1 ]; then
    [ "$2" = serve ] && serve_match=$((serve_match + 1))
    [ "$2" = template ] && template_match=$((template_match + 1))
    pass
  elif [ -n "${expected[$1]:-}" ]; then
    fail "$2 $1: differs from llama-server's"
  else
    echo "mismatch: $2 $1" >&2
  fi
}
# matches REF_PREFIX OK_STATUS STATUS TEXT_VAR: the rendering matches the reference (a refusal: the status).
matches() {
  if [ -f "$1.err" ]; then
    [ "$3" = "$2" ]
    return
  fi
  [ "$3" = "$4" ] || return 1
  local want
  slurp want "$1.txt"
  normalized want
  local a=$norm
  normalized "$5"
  [ "$a" = "$norm" ]
}

for tmpl in "$TEMPLATES"/*.jinja; do
  name=$(basename "$tmpl" .jinja)
  # /apply-template: all the conversations in one curl, their prompts out of one jq (NUL-separated). A status that
  # is not HTTP's (000: no answer at all) is the transport's, not a rendering: shown with the server's log, and the
  # template's requests are sent once more to a new server (a wrong rendering is never retried).
  for attempt in 1 2; do
    start_server s -m "$M" --chat-template-file "$tmpl" -c 256 -np 1 -t 1
    curl_args=()
    for c in "${convs[@]}"; do
      curl_args+=(-s -o "$TMP/conv/$c.body" -w '%{http_code}\n' -H 'Content-Type: application/json' -H 'Expect:'
        --data-binary @"$C/conversations/$c.json" "$s_URL/apply-template" --next)
    done
    rm -f "$TMP"/conv/*.body
    mapfile -t codes < <(curl "${curl_args[@]:0:${#curl_args[@]}-1}")
    bodies=()
    for c in "${convs[@]}"; do
      [ -f "$TMP/conv/$c.body" ] || echo "{}" > "$TMP/conv/$c.body"
      bodies+=("$TMP/conv/$c.body")
    done
    mapfile -d '' prompts < <(jq -j '(.prompt // "") + "\u0000"' "${bodies[@]}")
    stop_server "$s_PID"
    if [ "$stop_rc" = 0 ] && [ "${#codes[@]}" = "${#convs[@]}" ] && ! printf '%s\n' "${codes[@]}" | grep -qv '^[24]'; then
      break
    fi
    echo "$name (attempt $attempt): statuses ${codes[*]:-none}, server exit $stop_rc; its log:" >&2
    tail -20 "$TMP/s.log" >&2
  done
  # llamac template: every request in one run, one JSON line each ({"prompt"} or {"error"})
  run_llamac "$TMP/lines" "$TMP/err" template -m "$M" --chat-template-file "$tmpl" "${req_args[@]}"
  mapfile -d '' tprompts < <(jq -j '(.prompt // "") + "\u0000"' "$TMP/lines")
  mapfile -t tstatus < <(jq -r 'if has("prompt") then 0 else 1 end' "$TMP/lines")

  for i in "${!convs[@]}"; do
    c=${convs[$i]}
    pair="${name}__$c"
    total=$((total + 1))
    prompt=${prompts[$i]:-}
    ok=0
    matches "$C/$pair" 400 "${codes[$i]:-}" 200 prompt && ok=1
    outcome "$pair" serve "$ok"

    got=${tprompts[$i]:-}
    ok=0
    matches "$C/$pair" 1 "${tstatus[$i]:-}" 0 got && ok=1
    outcome "$pair" template "$ok"
  done
done
echo "chat layer: /apply-template matches llama-server on $serve_match of $total (template x conversation)" \
  "pairs, llamac template on $template_match" >&2

# llama.cpp's built-in formats by name (--chat-template NAME) against llama-server --no-jinja --chat-template NAME
# (tests/reference/chat/builtin, scripts/reference/chat_builtin.sh): every pair must match, by `llamac template` for
# every name and by `llamac serve` for a few (its template is loaded by the same function).
B="$C/builtin"
bconvs=()
breq_args=()
for f in "$B"/chatml__*; do
  c=$(basename "$f")
  c=${c#chatml__}
  c=${c%.*}
  bconvs+=("$c")
  breq_args+=(--request "$C/conversations/$c.json")
done
btotal=0
bmatch=0
while read -r name; do
  run_llamac "$TMP/lines" "$TMP/err" template -m "$M" --chat-template "$name" "${breq_args[@]}"
  mapfile -d '' tprompts < <(jq -j '(.prompt // "") + "\u0000"' "$TMP/lines")
  mapfile -t tstatus < <(jq -r 'if has("prompt") then 0 else 1 end' "$TMP/lines")
  serve=0
  case " chatml llama3 mistral-v7 gemma " in *" $name "*) serve=1 ;; esac
  [ "$serve" = 1 ] && start_server b -m "$M" --chat-template "$name" -c 256 -np 1 -t 1
  for i in "${!bconvs[@]}"; do
    c=${bconvs[$i]}
    btotal=$((btotal + 1))
    got=${tprompts[$i]:-}
    if matches "$B/${name}__$c" 1 "${tstatus[$i]:-}" 0 got; then
      bmatch=$((bmatch + 1))
      pass
    else
      fail "llamac template --chat-template $name, $c: differs from llama-server's"
    fi
    if [ "$serve" = 1 ]; then
      code=$(curl -s -o "$TMP/bbody" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data-binary @"$C/conversations/$c.json" "$b_URL/apply-template")
      got=$(jq -j '.prompt // "" | . + "."' "$TMP/bbody")
      got=${got%.}
      matches "$B/${name}__$c" 400 "$code" 200 got && pass ||
        fail "llamac serve --chat-template $name, $c: differs from llama-server's"
    fi
  done
  [ "$serve" = 1 ] && stop_server "$b_PID"
done < "$B/names.txt"
echo "chat layer, built-in formats: llamac template matches llama-server --no-jinja on $bmatch of $btotal pairs" >&2
finish
