# The bash and zsh completions (packaging/completions) against this build's llamac, driven as the shells drive them:
# the bash function with COMP_WORDS/COMP_CWORD, the zsh function autoloaded with zsh's completion builtins replaced
# by ones that print what they are given. Commands, flags, a flag's listed choices, files for a FILE or MODEL value,
# nothing for a number.
NEEDS_MODELS=0
. "$(dirname "$0")/../cli/lib.sh"
COMPLETIONS="$LLAMAC_SOURCE_DIR/packaging/completions"
mkdir -p "$TMP/files"
rm -f "$TMP/files"/*
touch "$TMP/files/model-a.gguf" "$TMP/files/model-b.gguf" "$TMP/files/notes.txt"

# A flag of `llamac run --help` whose value lists choices (a|b|c), and those choices: the test takes them from the
# help, as a user reads them.
choice_line=$("$LLAMAC" run --help | grep -oE -- '--[a-z-]+ [a-z0-9_.]+(\|[a-z0-9_.]+)+' | head -1)
choice_flag=${choice_line%% *}
choices=$(echo "${choice_line#* }" | tr '|' '\n')
[ -n "$choice_flag" ] || fail "no flag with choices in llamac run --help"
commands=$("$LLAMAC" --help | sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p')
expect_contains "commands in llamac --help" "$commands" "serve"

# ---- bash ----------------------------------------------------------------------------------------------------------
# bcomp WORDS...: the completions bash would offer for the last word.
bcomp() {
  (
    cd "$TMP/files" || exit 1
    # shellcheck disable=SC1091
    . "$COMPLETIONS/llamac.bash"
    compopt() { :; } # display options; it works only inside a completion bash started itself
    COMP_WORDS=("$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    _llamac
    printf '%s\n' "${COMPREPLY[@]}"
  )
}
expect_eq "bash: commands" "$(bcomp "$LLAMAC" "" | sort)" "$(printf '%s\n' $commands --help --version | sort)"
expect_eq "bash: commands starting se" "$(bcomp "$LLAMAC" se)" "serve"
expect_eq "bash: serve --po" "$(bcomp "$LLAMAC" serve --po)" "$(printf -- '--pooling\n--port')"
got=$(bcomp "$LLAMAC" serve -)
for f in --host --port --api-key --api-key-file -np --parallel -m --model -c --ctx-size --help; do
  expect_contains "bash: serve flags" " $(echo $got) " " $f "
done
expect_eq "bash: no flag of another command" "$(bcomp "$LLAMAC" serve --promp)" ""
expect_eq "bash: choices of $choice_flag" "$(bcomp "$LLAMAC" run "$choice_flag" "")" "$choices"
expect_eq "bash: -m takes a file" "$(bcomp "$LLAMAC" run -m model | sort)" "$(printf 'model-a.gguf\nmodel-b.gguf')"
expect_eq "bash: --model takes a file" "$(bcomp "$LLAMAC" run --model model-b)" "model-b.gguf"
expect_eq "bash: a number is typed" "$(bcomp "$LLAMAC" run -n "")" ""
expect_eq "bash: an argument is a file" "$(bcomp "$LLAMAC" info no)" "notes.txt"
expect_eq "bash: an unknown command offers files, no flags" "$(bcomp "$LLAMAC" nosuch --p)" ""

# ---- zsh -----------------------------------------------------------------------------------------------------------
if ! command -v zsh > /dev/null; then
  echo "zsh not found (scripts/setup.sh installs it): its completion is not checked" >&2
  finish
  exit $?
fi
mkdir -p "$TMP/zfunc"
cp "$COMPLETIONS/_llamac.zsh" "$TMP/zfunc/_llamac"
# zcomp WORDS...: what the zsh function hands to compadd (words), _describe (name:summary), _files (FILES) or
# _message (MESSAGE value) for the last word.
zcomp() {
  (cd "$TMP/files" && zsh -f -c '
    fpath=("$1" $fpath)
    shift
    autoload -Uz _llamac
    compadd() { local a; for a in "$@"; do [[ $a == -- || ($a == -? && $a != -[a-z0-9]) ]] || print -r -- "$a"; done }
    _describe() { print -rl -- "${(@P)${@[-1]}}" }
    _files() { print -r -- FILES }
    _message() { print -r -- "MESSAGE $3" }
    words=("$@")
    CURRENT=$#words
    PREFIX=${words[-1]}
    _llamac' zcomp "$TMP/zfunc" "$@")
}
got=$(zcomp "$LLAMAC" "")
expect_contains "zsh: commands with their summaries" "$got" \
  "serve:$("$LLAMAC" --help | sed -n 's/^  serve  *//p')"
expect_eq "zsh: every command" "$(echo "$got" | grep -c ':')" "$(echo "$commands" | wc -l | tr -d ' ')"
got=$(zcomp "$LLAMAC" serve --po)
for f in --port --host --api-key -np --help; do
  if echo "$got" | grep -qx -- "$f"; then pass; else fail "zsh: serve flags lack $f"; fi
done
expect_eq "zsh: choices of $choice_flag" "$(zcomp "$LLAMAC" run "$choice_flag" "")" "$choices"
expect_eq "zsh: -m takes a file" "$(zcomp "$LLAMAC" run -m "")" "FILES"
expect_eq "zsh: a number is typed" "$(zcomp "$LLAMAC" run -n "")" "MESSAGE N"
expect_eq "zsh: an argument is a file" "$(zcomp "$LLAMAC" info "")" "FILES"
if zsh -n "$COMPLETIONS/_llamac.zsh"; then pass; else fail "zsh -n _llamac.zsh"; fi
finish
