# The messages a command-line user gets, as a table: each row is the exit status, text the message must hold, and
# the command line. Every message that concerns an option names the flag as typed on the command line, never a
# library field (n_ctx, flash_attn, allow_ctx_overflow, template_source, ...); a model that does not load is
# explained by the GGUF reader. An error is one line on stderr (warnings and notes come with status 0).
. "$(dirname "$0")/lib.sh"
M="$MODELS/stories260K.gguf"
C="$MODELS/stories260K-chatml.gguf"
head -c 4000 "$M" > "$TMP/trunc.gguf"
printf 'long word %.0s' $(seq 1 40) > "$TMP/long.txt"
truncate -s $((1024 * 1024 * 1024 + 1)) "$TMP/big.txt" # sparse: one byte past what the command reads
VOCAB="${LLAMAC_LLAMA_SOURCE:-}/models/ggml-vocab-llama-spm.gguf"

# status <TAB> the message holds <TAB> arguments (shell words)
while IFS=$'\t' read -r want needle args; do
  [ -z "$want" ] || [ "${want:0:1}" = "#" ] && continue
  eval "set -- $args"
  if [[ "$args" == *'$VOCAB'* ]] && [ ! -f "$VOCAB" ]; then continue; fi
  rc=0
  "$LLAMAC" "$@" > "$TMP/o" 2> "$TMP/e" < "$TMP/long.txt" || rc=$?
  expect_eq "[$args] status" "$rc" "$want"
  expect_contains "[$args] message" "$(cat "$TMP/e")" "$needle"
  if [ "$want" != 0 ]; then expect_eq "[$args] one line" "$(wc -l < "$TMP/e")" 1; fi
  for field in n_ctx n_batch n_ubatch n_seq_max flash_attn type_k type_v allow_ctx_overflow template_source \
    template_kwargs_json max_tokens top_p mirostat_tau keep_last_turns n_gpu_layers; do
    # (--samplers and --sampler-seq list llama.cpp's sampler names, which are what those flags take: top_p)
    if [[ "$args" == *--sampler* ]] && [ "$field" = top_p ]; then continue; fi
    if grep -qw -- "$field" "$TMP/e"; then fail "[$args] names the library field $field: $(cat "$TMP/e")"; fi
  done
done << 'EOF'
# contexts and caches
0	warning: -c 4096 is larger than the model's training context (2048 tokens)	run "$M" -p hi -n 2 -c 4096
1	a quantized V cache (q4_0) needs flash attention; use -fa auto or on	run "$M" -p hi -ctv q4_0 -fa off
1	K cache type q8_0 stores blocks of 32 values, which do not divide the head size 8	run "$M" -p hi -ctk q8_0 -fa off
2	-ctk: unknown KV cache type 'q9'	run "$M" -p hi -ctk q9
2	invalid value 'maybe' for -fa (expected on, off or auto)	run "$M" -p hi -fa maybe
2	invalid value 'maybe' for --attn-rot (expected on, off or auto)	chat "$C" --attn-rot maybe
1	-np (24) must divide the micro-batch (2048 tokens, min of -c, -b and -ub)	embed "$M" -np 24 --pooling mean x
1	one sequence holds at most 8 (min of -b, -ub and the context per sequence); set --truncate to cut it	embed "$M" -b 8 -ub 8 --pooling mean "Once upon a time there was a little girl named Lily"
# sampling values the library checks (once the model is loaded, before any work): a bad value like any other (2)
2	--top-p 2 must be in (0, 1]	run "$M" -p hi --top-p 2
2	--top-p 1.5 must be in (0, 1]	run "$M" -p hi --top-p 1.5
2	--min-p 2 must be in [0, 1]	run "$M" -p hi --min-p 2
2	--repeat-penalty -1 must be > 0	chat "$C" --repeat-penalty -1
2	--mirostat-ent 0 must be > 0	run "$M" -p hi --mirostat 2 --mirostat-ent 0
2	-l 0: token 99999 is outside the vocabulary (0..511)	run "$M" -p hi -l 99999+1
2	invalid value '1000' for -t (expected an integer from -1 to 512)	run "$M" -p hi -t 1000
2	invalid value '513' for -tb (expected an integer from -1 to 512)	chat "$C" -tb 513
2	invalid -l 'x' (expected TOKEN+BIAS or TOKEN-BIAS	run "$M" -p hi -l x
2	--samplers 'top_k;top_q': unknown sampler "top_q"; the samplers are penalties, dry	run "$M" -p hi --samplers 'top_k;top_q'
2	--sampler-seq 'kzt': unknown sampler letter 'z'; the letters are e (penalties)	chat "$C" --sampler-seq kzt
2	--samplers 'kt': unknown sampler "kt"	serve -m "$M" --samplers kt
2	--dry-sequence-breaker must be non-empty	run "$M" -p hi --dry-sequence-breaker ''
2	give at most one of --grammar, --grammar-file, --json-schema, --json-schema-file, --json	run "$M" -p hi --json --grammar 'root ::= "a"'
# values the parser checks
2	invalid value '-5' for -n (expected an integer from -1 to	run "$M" -p hi -n -5
2	invalid value 'abc' for --predict	chat "$C" --predict abc
2	option -c needs a value (N)	run "$M" -c
2	invalid value '70000' for --port (expected an integer from 0 to 65535)	serve "$M" --port 70000
2	invalid value '-5' for -ngl	run "$M" -ngl -5
2	invalid value 'r1' for --reasoning-format (expected deepseek, auto or none)	serve "$M" --reasoning-format r1
2	option --ignore-eos takes no value	run "$M" --ignore-eos=1
2	--log-file: cannot open '/nonexistent/dir/log'	run "$M" -p hi --log-file /nonexistent/dir/log
2	--chat-template-kwargs: expected a JSON object	chat "$C" --chat-template-kwargs '[1]'
2	--chat-template-kwargs: invalid JSON	serve "$M" --chat-template-kwargs '{'
2	--chat-template: "gpt-9" is not one of llama.cpp's built-in chat templates (bailing,	serve "$M" --chat-template gpt-9
2	give at most one of --chat-template and --chat-template-file	chat "$C" --chat-template chatml --chat-template-file x.jinja
2	invalid value 'maybe' for --reasoning (expected on, off or auto)	serve "$M" --reasoning maybe
# one vocabulary: flags another command takes, flags renamed, flags of a mode
2	unknown option '--jinja' for run (chat, serve, template take it	run "$M" --jinja
2	unknown option '--kv-type': it is now -ctk TYPE -ctv TYPE	chat --live "$C" --kv-type q8_0
2	unknown option '--rotation': it is now --attn-rot	chat --live "$C" --rotation on
2	unknown option '--session-cache': it is now --session	chat --live "$C" --session-cache x
2	--debounce-ms works with --live	chat "$C" --debounce-ms 5
2	--live needs a terminal on standard input and output	chat --live "$C" --json -l 1+1 --ignore-eos --session x
2	--query is required	rerank "$M" doc
2	unexpected argument 'hi' (the prompt is given with -p TEXT, -f FILE or on standard input)	run "$M" hi
2	give the prompt with -p or -f, not both	run "$M" -p a -f "$TMP/long.txt"
1	big.txt' is larger than 1 GiB	run "$M" -f "$TMP/big.txt"
1	cannot read '/'	run "$M" -f /
# models: the GGUF reader explains, a vocabulary says so, the positional model is the model
1	no model given: pass -m FILE, or MODEL.gguf as the first argument	run -p hi
1	cannot load model: malformed GGUF	run "$TMP/trunc.gguf" -p hi
1	it holds only a vocabulary (32000 tokens, no weights)	run "$VOCAB" -p hi
# embeddings: what the user did ask for
1	--format table needs one vector per text; --pooling none gives one per token	embed "$M" --pooling none --format table a b
0	the model does not pool its token vectors (a generative model): using mean pooling	embed "$M" a
# a chat model without a template: ChatML, as llama-server
0	the model has no chat template: using ChatML, as llama-server does (--chat-template-file FILE chooses another)	chat "$M" -n 2
EOF
rm -f "$TMP/big.txt"

# a chat message past 64 MiB (one piped line) is refused, not read without end
rc=0
head -c $((64 * 1024 * 1024 + 1)) /dev/zero | tr '\0' a | "$LLAMAC" chat "$C" > "$TMP/o" 2> "$TMP/e" || rc=$?
expect_eq "chat: a message past 64 MiB" "$rc:$(cat "$TMP/e")" "1:llamac chat: a message is longer than 64 MiB"
finish
