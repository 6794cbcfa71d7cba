# The `llamac` command line: version, help, tokenize, run from stdin and files, stop strings, and every error a
# user can provoke giving one clear line on stderr and the documented exit status (1 failure, 2 usage).
. "$(dirname "$0")/lib.sh"
M="$MODELS/stories260K.gguf"

run_llamac "$TMP/o" "$TMP/e" --version
expect_eq "--version status" "$rc" 0
expect_contains "--version names llamac" "$(cat "$TMP/o")" "llamac 0.1.0"
expect_contains "--version names the llama.cpp commit" "$(cat "$TMP/o")" "llama.cpp de3ff81"
expect_contains "--version lists backends" "$(grep '^backends:' "$TMP/o")" " CPU"

run_llamac "$TMP/o" "$TMP/e" run --help
expect_eq "run --help status" "$rc" 0
expect_contains "run --help lists -n" "$(cat "$TMP/o")" "--n-predict"

run_llamac "$TMP/o" "$TMP/e" frobnicate
expect_eq "unknown command status" "$rc" 2
expect_contains "unknown command message" "$(cat "$TMP/e")" "unknown command 'frobnicate'"

# tokenize: JSON array, BOS by default, --no-bos, --parse-special
run_llamac "$TMP/o" "$TMP/e" tokenize -m "$M" "Once upon a time"
expect_eq "tokenize" "$(cat "$TMP/o")" "[1, 403, 407, 261, 378]"
run_llamac "$TMP/o" "$TMP/e" tokenize -m "$M" --no-bos "Once upon a time"
expect_eq "tokenize --no-bos" "$(cat "$TMP/o")" "[403, 407, 261, 378]"
run_llamac "$TMP/o" "$TMP/e" tokenize -m "$M" --no-bos "</s>"
case "$(cat "$TMP/o")" in "[2]") fail "special text parsed without --parse-special" ;; *) pass ;; esac
run_llamac "$TMP/o" "$TMP/e" tokenize -m "$M" --no-bos --parse-special "</s>"
expect_eq "tokenize --parse-special" "$(cat "$TMP/o")" "[2]"
printf 'Once upon a time' > "$TMP/in.txt"
rc=0; "$LLAMAC" tokenize -m "$M" < "$TMP/in.txt" > "$TMP/o" 2> "$TMP/e" || rc=$?
expect_eq "tokenize from stdin" "$(cat "$TMP/o")" "[1, 403, 407, 261, 378]"

# run: stdout has only the text; prompt from stdin and from a file give the same text
ref=$(cat "$REF/greedy/1.txt")
rc=0; printf 'Once upon a time' | "$LLAMAC" run -m "$M" -n 48 --temp 0 > "$TMP/o" 2> "$TMP/e" || rc=$?
expect_eq "run from stdin status" "$rc" 0
expect_eq "run from stdin" "$(cat "$TMP/o")" "$ref"
run_llamac "$TMP/o" "$TMP/e" run -m "$M" -f "$TMP/in.txt" -n 48 --temp 0
expect_eq "run -f" "$(cat "$TMP/o")" "$ref"
expect_eq "run writes nothing to stderr by default" "$(cat "$TMP/e")" ""
run_llamac "$TMP/o" "$TMP/e" run -m "$M" -p "Once upon a time" -n 48 --temp 0 --verbose
expect_contains "--verbose prints timings" "$(cat "$TMP/e")" "tok/s"
expect_eq "--verbose keeps stdout clean" "$(cat "$TMP/o")" "$ref"

# --ignore-eos bans end-of-generation tokens, as llama.cpp's: with the end of text made the first choice (a +100 logit
# bias on </s>, token 2) the text ends at once, and with --ignore-eos it is the greedy text as if </s> did not exist
# (llama-completion -l 2+100 --ignore-eos prints the same)
run_llamac "$TMP/o" "$TMP/e" run -m "$M" -p "Once upon a time" -n 48 --temp 0 -l 2+100 --verbose
expect_eq "end of text favoured: nothing" "$(cat "$TMP/o")" ""
expect_contains "end of text favoured: finish eog" "$(cat "$TMP/e")" "finish eog"
run_llamac "$TMP/o" "$TMP/e" run -m "$M" -p "Once upon a time" -n 48 --temp 0 -l 2+100 --ignore-eos
expect_eq "--ignore-eos never samples the end of text" "$(cat "$TMP/o")" "$ref"

# stop strings: the text ends before the stop string, which is not printed
run_llamac "$TMP/o" "$TMP/e" run -m "$M" -p "Once upon a time" -n 48 --temp 0 -r "Lily"
expect_eq "run -r" "$(cat "$TMP/o")" ", there was a little girl named "
run_llamac "$TMP/o" "$TMP/e" run -m "$M" -p "Once upon a time" -n 48 --temp 0 --stop "girl named"
expect_eq "run --stop across tokens" "$(cat "$TMP/o")" ", there was a little "

# seeded sampling is reproducible
run_llamac "$TMP/a" "$TMP/e" run -m "$M" -p "Once upon a time" -n 40 --seed 42 --temp 1
run_llamac "$TMP/b" "$TMP/e" run -m "$M" -p "Once upon a time" -n 40 --seed 42 --temp 1
expect_eq "same seed, same text" "$(cat "$TMP/a")" "$(cat "$TMP/b")"
expect_eq "seeded run status" "$rc" 0

# grammar constrains the output
run_llamac "$TMP/o" "$TMP/e" run -m "$M" -p "Once upon a time" -n 20 --temp 1 --seed 3 --grammar 'root ::= "yes" | "no"'
case "$(cat "$TMP/o")" in yes|no) pass ;; *) fail "grammar output [$(cat "$TMP/o")]" ;; esac
run_llamac "$TMP/o" "$TMP/e" run -m "$M" -p "x" --grammar 'root ::= ('
expect_eq "invalid grammar status" "$rc" 1
expect_contains "invalid grammar message" "$(cat "$TMP/e")" "grammar"

# errors: one line on stderr, exit 1 for failures, 2 for usage
run_llamac "$TMP/o" "$TMP/e" run -m "$TMP/missing.gguf" -p "x"
expect_eq "missing model status" "$rc" 1
expect_contains "missing model message" "$(cat "$TMP/e")" "No such file"
expect_eq "missing model: one line" "$(wc -l < "$TMP/e")" 1
: > "$TMP/empty.gguf"
run_llamac "$TMP/o" "$TMP/e" run -m "$TMP/empty.gguf" -p "x"
expect_eq "empty model status" "$rc" 1
expect_contains "empty model message" "$(cat "$TMP/e")" "empty"
head -c 4000 "$M" > "$TMP/trunc.gguf"
run_llamac "$TMP/o" "$TMP/e" run -m "$TMP/trunc.gguf" -p "x"
expect_eq "truncated model status" "$rc" 1
expect_contains "truncated model message" "$(cat "$TMP/e")" "cannot load model"
# load failures are explained by the checking GGUF reader of `llamac info`, not llama.cpp's log chain
expect_contains "truncated model: where and why" "$(cat "$TMP/e")" \
  "malformed GGUF '$TMP/trunc.gguf': metadata entry 0 ('tokenizer.ggml.tokens') value at offset 69"
expect_eq "truncated model: no llama.cpp log chain" "$(grep -c 'llama_model_load' "$TMP/e")" 0
VOCAB="${LLAMAC_LLAMA_SOURCE:-}/models/ggml-vocab-llama-spm.gguf"
if [ -f "$VOCAB" ]; then
  run_llamac "$TMP/o" "$TMP/e" run -m "$VOCAB" -p "x"
  expect_eq "vocabulary-only model status" "$rc" 1
  expect_contains "vocabulary-only model message" "$(cat "$TMP/e")" "it holds only a vocabulary (32000 tokens, no weights)"
  run_llamac "$TMP/o" "$TMP/e" tokenize "$VOCAB" "hello"
  expect_eq "a vocabulary tokenizes (positional model)" "$(cat "$TMP/o")" "[1, 22172]"
fi
echo "hello" > "$TMP/text.gguf"
run_llamac "$TMP/o" "$TMP/e" run -m "$TMP/text.gguf" -p "x"
expect_eq "text file status" "$rc" 1
expect_contains "text file message" "$(cat "$TMP/e")" "not a GGUF file"
run_llamac "$TMP/o" "$TMP/e" run -m "$TMP" -p "x"
expect_eq "directory status" "$rc" 1
expect_contains "directory message" "$(cat "$TMP/e")" "directory"
run_llamac "$TMP/o" "$TMP/e" run -p "x"
expect_eq "no model status" "$rc" 1
expect_contains "no model message" "$(cat "$TMP/e")" "no model given"
run_llamac "$TMP/o" "$TMP/e" run -m "$M" -p "x" -n abc
expect_eq "bad -n status" "$rc" 2
expect_contains "bad -n message" "$(cat "$TMP/e")" "invalid value 'abc' for -n"
run_llamac "$TMP/o" "$TMP/e" run -m "$M" -p "x" --bogus
expect_eq "unknown option status" "$rc" 2
run_llamac "$TMP/o" "$TMP/e" run -m "$M" -p "x" -ctk q9_9
expect_eq "bad cache type status" "$rc" 2
expect_contains "bad cache type message" "$(cat "$TMP/e")" "unknown KV cache type"
# a context larger than the training context works, with a warning (as llama.cpp)
run_llamac "$TMP/o" "$TMP/e" run -m "$M" -p "Once upon a time" -n 4 --temp 0 -c 4096
expect_eq "ctx beyond training status" "$rc" 0
expect_contains "ctx beyond training warning" "$(cat "$TMP/e")" \
  "warning: -c 4096 is larger than the model's training context (2048 tokens)"
run_llamac "$TMP/o" "$TMP/e" run -m "$M" -p "Once upon a time" -n 4 --temp 0 -c 4096 -q
expect_eq "ctx beyond training: -q keeps stderr empty" "$(cat "$TMP/e")" ""
long=$(printf 'word %.0s' $(seq 1 300))
run_llamac "$TMP/o" "$TMP/e" run -m "$M" -p "$long" -c 64
expect_eq "prompt longer than context status" "$rc" 1
expect_contains "prompt longer than context message" "$(cat "$TMP/e")" "the context holds"
printf 'bad \xff utf8' > "$TMP/bad.txt"
run_llamac "$TMP/o" "$TMP/e" run -m "$M" -f "$TMP/bad.txt"
expect_eq "invalid UTF-8 prompt status" "$rc" 1
expect_contains "invalid UTF-8 prompt message" "$(cat "$TMP/e")" "UTF-8"

# a closed stdout stops generation without a crash
rc=0; "$LLAMAC" run -m "$M" -p "Once upon a time" -n 2000 --ignore-eos 2> "$TMP/e" | head -c 10 > /dev/null || rc=$?
expect_eq "closed pipe: no crash" "$(grep -c -i 'abort\|segmentation' "$TMP/e")" 0

# the log: --log-file takes it (info level), stderr stays clean; -lv 2 keeps warnings only
rm -f "$TMP/run.log"
run_llamac "$TMP/o" "$TMP/e" run "$M" -p "Once upon a time" -n 4 --temp 0 -t 1 --log-file "$TMP/run.log"
expect_eq "--log-file: stderr clean" "$rc:$(cat "$TMP/e")" "0:"
expect_contains "--log-file: llama.cpp's log" "$(cat "$TMP/run.log")" "[info] "
expect_contains "--log-file: llamac's timings" "$(cat "$TMP/run.log")" "llamac run: finish"
run_llamac "$TMP/o" "$TMP/e" run "$M" -p "Once upon a time" -n 4 --temp 0 -t 1 -lv 2
expect_eq "-lv 2: no info lines" "$(grep -c '^\[info\]' "$TMP/e")" 0
expect_contains "-lv 2: warnings" "$(cat "$TMP/e")" "[warn] "
run_llamac "$TMP/o" "$TMP/e" run "$M" -p "Once upon a time" -n 4 --temp 0 -t 1 -v --log-disable
expect_eq "--log-disable wins over -v" "$rc:$(cat "$TMP/e")" "0:"

# pull --list on an empty cache says so
mkdir -p "$TMP/empty-hub"
rc=0; HF_HUB_CACHE="$TMP/empty-hub" "$LLAMAC" pull --list > "$TMP/o" 2> "$TMP/e" || rc=$?
expect_eq "pull --list on an empty cache: status" "$rc:$(cat "$TMP/o")" "0:"
expect_contains "pull --list on an empty cache: says so" "$(cat "$TMP/e")" "the Hugging Face cache holds no GGUF models"

# --- on a terminal (tmux) ---
. "$(dirname "$0")/tmux_lib.sh"
# run without -p: a hint on stderr, one Ctrl-D ends the prompt (mid-line), and the output ends its line so that
# what follows (here MARK) starts on a line of its own
"${T[@]}" new-session -d -s r -x 100 -y 20 \
  "$(printf '%q ' "$LLAMAC" run "$M" -n 8 --temp 0 -t 1); echo MARK-\$?; sleep 60"
wait_for r "end it with Ctrl-D"
"${T[@]}" send-keys -t r "Once upon a time" C-d
wait_for r "MARK-0" && pass
expect_contains "tmux: the prompt stays on screen" "$(pane r)" "Once upon a time"
expect_contains "tmux: the completion" "$(pane r)" ", there was a little girl"
expect_eq "tmux: the output ends its line" "$(pane r | grep -cx 'MARK-0')" 1
# the progress bar fits a 40-column terminal: a bar that wrapped would leave a row behind at every redraw
"${T[@]}" new-session -d -s q -x 40 -y 20 \
  "$(printf '%q ' "$LLAMAC" quantize -t 1 "$M" "$TMP/q8.gguf" Q8_0) > /dev/null; echo MARK-\$?; sleep 60"
wait_for q "MARK-0" && pass
expect_eq "tmux: no progress bar left behind in 40 columns" "$(pane q | grep -c 'quantizing')" 0
expect_eq "tmux: no line wider than 40 columns" "$(pane q | awk 'length > 40' | wc -l)" 0
finish
