# Every command's flags, generated from its option table (`llamac help --options CMD`), so it cannot drift: each
# listed flag, in every spelling, is accepted by the parser (LLAMAC_PARSE_ONLY=1 stops after parsing), and each flag
# the --help text mentions anywhere is listed and accepted; no spelling means two things in one command; an
# unknown flag is refused. Needs no model.
NEEDS_MODELS=0
. "$(dirname "$0")/lib.sh"

: > "$TMP/empty"
echo key > "$TMP/keys" # --api-key-file refuses a file that holds no key
commands=$("$LLAMAC" --help | sed -n 's/^  \([a-z]*\)  .*/\1/p')
expect_eq "llamac --help lists the commands" "$(echo "$commands" | wc -l)" 15

# A value the option accepts, from its value's name in the table (and the flag, $2, where the name is not enough).
sample() {
  if [ "${2:-}" = --api-key-file ]; then
    echo "$TMP/keys"
    return
  fi
  case "${2:-}" in # llama-server's flags whose only value llamac serve takes is "off", and --api-prefix's path
    --cache-reuse | -ctxcp | --ctx-checkpoints | --swa-checkpoints | --sse-ping-interval | --log-colors) echo 0; return ;;
    --adaptive-target) echo -1; return ;;
    --api-prefix) echo /x; return ;;
  esac
  case "$1" in
    "TOKEN(+|-)BIAS") echo "1+1" ;;
    SAMPLERS) echo "top_k;temperature" ;;
    SEQUENCE) echo kt ;;
    "N(K|M|G)") echo "2G" ;;
    *"|"*) echo "${1%%|*}" ;;
    N | MIB | K) echo 1 ;;
    F | P | T | R | E | M | B | ETA | TAU) echo 0.5 ;;
    FILE) echo "$TMP/empty" ;;
    TYPE) echo q8_0 ;;
    MODE) echo auto ;;
    FORMAT) echo none ;;
    LIST) echo 0 ;;
    TYPES) echo ngram-simple ;;
    "N,N,...") echo 1024 ;;
    "N0,N1,...") echo "3,1" ;;
    "T,T,...") echo f16 ;;
    KEY=TYPE:VALUE | "KEY=TYPE:VALUE,...") echo "a.b=int:1" ;;
    FNAME:SCALE) echo "x:0.5" ;;
    "START END") echo "1,2" ;;
    PATTERN=TYPE) echo "output=q8_0" ;;
    "PATTERN=TYPE,...") echo "output=CPU" ;;
    INDEX) echo 0 ;;
    JSON) echo '{}' ;;
    *) echo x ;;
  esac
}

for cmd in $commands; do
  "$LLAMAC" help --options "$cmd" > "$TMP/$cmd.tsv"
  "$LLAMAC" "$cmd" --help > "$TMP/$cmd.help"
  [ -s "$TMP/$cmd.tsv" ] && pass || fail "$cmd: no option table"
  # no spelling twice in one table
  dups=$(cut -f2 "$TMP/$cmd.tsv" | tr ',' '\n' | sort | uniq -d | tr '\n' ' ')
  expect_eq "$cmd: every spelling once" "$dups" ""
  cut -f2 "$TMP/$cmd.tsv" | tr ',' '\n' | sort > "$TMP/$cmd.names"
  # the spellings --help shows in its option lines (the names column: up to the gap before the help text)
  awk '/^  -/ { split(substr($0, 3), c, /  +/); n = split(c[1], p, ", ");
       for (i = 1; i <= n; i++) { split(p[i], w, " "); if (w[1] ~ /^-/) print w[1] } }' "$TMP/$cmd.help" |
    sort > "$TMP/$cmd.listed"
  expect_eq "$cmd: --help lists exactly the table's spellings" "$(comm -3 "$TMP/$cmd.names" "$TMP/$cmd.listed" |
    tr -d '\t' | tr '\n' ' ')" ""
  # every spelling with a value of its kind in one command line (one process per command: fast enough under
  # ASan); when that fails, one by one to name the culprit
  all=() bad_accept="" refused=()
  while IFS=$'\t' read -r group names arg help; do
    for name in ${names//,/ }; do
      case "$name" in -h | --help | --usage | --version | --list-devices) continue ;; esac # they end the parse
      case "$group" in *refused*) refused+=("$name"); continue ;; esac # below
      all+=("$name")
      if [ -n "$arg" ]; then all+=("$(sample "$arg" "$name")"); fi
    done
  done < "$TMP/$cmd.tsv"
  rc=0
  LLAMAC_PARSE_ONLY=1 "$LLAMAC" "$cmd" "${all[@]}" > "$TMP/o" 2> "$TMP/e" < /dev/null || rc=$?
  if [ "$rc" -ne 0 ]; then
    bad_accept="all together: $(head -c 200 "$TMP/e")"
    while IFS=$'\t' read -r group names arg help; do
      case "$group" in *refused*) continue ;; esac
      for name in ${names//,/ }; do
        if [ -n "$arg" ]; then value=("$(sample "$arg" "$name")"); else value=(); fi
        rc=0
        LLAMAC_PARSE_ONLY=1 "$LLAMAC" "$cmd" "$name" "${value[@]}" > "$TMP/o" 2> "$TMP/e" < /dev/null || rc=$?
        [ "$rc" -eq 0 ] || bad_accept="$bad_accept $name${value:+ ${value[0]}}($(head -c 200 "$TMP/e"))"
      done
    done < "$TMP/$cmd.tsv"
  fi
  expect_eq "$cmd: every listed flag is accepted" "$bad_accept" ""
  # the rows of llama-server's flags a command does not offer refuse them, each with its reason
  bad_refuse=""
  for name in "${refused[@]}"; do
    rc=0
    LLAMAC_PARSE_ONLY=1 "$LLAMAC" "$cmd" "$name" x > "$TMP/o" 2> "$TMP/e" < /dev/null || rc=$?
    [ "$rc" -eq 2 ] && grep -qF -- "$name is llama-server's, not offered by llamac $cmd: " "$TMP/e" ||
      bad_refuse="$bad_refuse $name($rc: $(head -c 200 "$TMP/e"))"
  done
  expect_eq "$cmd: every refused flag is refused with its reason" "$bad_refuse" ""
  rc=0
  LLAMAC_PARSE_ONLY=1 "$LLAMAC" "$cmd" -h > "$TMP/o" 2> "$TMP/e" < /dev/null || rc=$?
  expect_eq "$cmd: -h prints the help" "$rc:$(cmp -s "$TMP/o" "$TMP/$cmd.help" && echo same)" "0:same"
  rc=0
  LLAMAC_PARSE_ONLY=1 "$LLAMAC" "$cmd" --usage > "$TMP/o" 2> "$TMP/e" < /dev/null || rc=$?
  expect_eq "$cmd: --usage prints the help" "$rc:$(cmp -s "$TMP/o" "$TMP/$cmd.help" && echo same)" "0:same"
  rc=0
  "$LLAMAC" "$cmd" --version --no-such-flag > "$TMP/o" 2> "$TMP/e" < /dev/null || rc=$?
  expect_eq "$cmd: --version prints the versions and ends there" "$rc:$(head -c 7 "$TMP/o")" "0:llamac "
  # every flag --help mentions (in the synopsis, the text or the option lines) is in the table, but for those of
  # another command ("see llamac pull --list")
  sed -E "s/llamac [a-z]+ -{1,2}[a-z][a-z0-9-]*//g" "$TMP/$cmd.help" | grep -oE -- "(^|[ [(|'])-{1,2}[a-z][a-z0-9.-]*" |
    sed "s/^[ [(|']//; s/\.*$//" | sort -u > "$TMP/$cmd.mentioned"
  expect_eq "$cmd: every flag --help mentions is accepted" "$(comm -23 "$TMP/$cmd.mentioned" "$TMP/$cmd.names" |
    tr '\n' ' ')" ""
  # and nothing else is
  rc=0
  LLAMAC_PARSE_ONLY=1 "$LLAMAC" "$cmd" --no-such-flag > "$TMP/o" 2> "$TMP/e" < /dev/null || rc=$?
  expect_eq "$cmd: an unknown flag is refused" "$rc:$(grep -c "unknown option '--no-such-flag'" "$TMP/e")" "2:1"
done

# the shared flags mean the same in every command that lists them: same spellings, same value, same help
# (-m of info and -t of quantize are their own rows: a GGUF file to read, quantization threads)
for flag in -hf -c -fa -ctk -v -lv --log-file --log-disable --temp -s --jinja --chat-template-kwargs -n; do
  rows=$(for cmd in $commands; do
    grep -E -- "	(.*,)?$flag(,.*)?	" "$TMP/$cmd.tsv" | cut -f2-4
  done | sort -u)
  case "$flag" in
    -n) [ "$(echo "$rows" | wc -l)" -le 3 ] && pass || fail "-n: more meanings than run/chat, serve and kv: $rows" ;;
    *) expect_eq "$flag: one definition in every command" "$(echo "$rows" | wc -l)" 1 ;;
  esac
done
finish
