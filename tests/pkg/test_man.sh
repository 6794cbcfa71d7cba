# The man pages the build generates (<build>/man/man1, from the option tables --help is printed from): one per
# command and llamac(1); every flag `llamac CMD --help` shows is on `man llamac-CMD` as man renders it, and no other;
# `man llamac-serve` finds its page; `llamac help --man` refuses what it does not know.
. "$(dirname "$0")/../cli/lib.sh"
BUILD=${LLAMAC_BUILD_DIR:?LLAMAC_BUILD_DIR is set by ctest}
MAN1="$BUILD/man/man1"
if ! command -v man > /dev/null; then
  fail "man is missing (scripts/setup.sh installs man-db)"
  finish
  exit 1
fi
# render PAGE : the page as man shows it, in ASCII, wide enough that no line of an option's names wraps
render() { LC_ALL=C MANWIDTH=200 man -l "$1" 2> "$TMP/man.err"; }
# flags : the options of a listing on stdin: the first column of each line that starts with a dash (after
# indentation), split at ", ", less the value's name
flags() {
  sed -n 's/^ \{2,8\}\(-[^ ].*\)$/\1/p' | sed 's/   .*//' | tr ',' '\n' | awk '{ print $1 }' | grep '^-' | sort -u
}

commands=$("$LLAMAC" --help | sed -n '/^commands:/,/^$/p' | sed -n 's/^  \([a-z][a-z0-9-]*\) .*/\1/p')
expect_eq "a page per command and llamac(1), no other" "$(cd "$MAN1" && ls | sort)" \
  "$( (echo llamac.1; for c in $commands; do echo "llamac-$c.1"; done) | sort)"

for cmd in $commands; do
  page="$MAN1/llamac-$cmd.1"
  "$LLAMAC" "$cmd" --help | flags > "$TMP/help.flags"
  render "$page" > "$TMP/man.txt"
  expect_eq "llamac-$cmd.1 renders without warnings" "$(cat "$TMP/man.err")" ""
  sed -n '/^OPTIONS$/,/^[A-Z]/p' "$TMP/man.txt" | flags > "$TMP/man.flags"
  n=$(wc -l < "$TMP/help.flags")
  if [ "$n" -gt 0 ] && diff "$TMP/help.flags" "$TMP/man.flags" > "$TMP/diff"; then pass; else
    fail "llamac $cmd: --help's $n flags and the man page's differ (< --help, > man): $(cat "$TMP/diff")"
  fi
  expect_contains "llamac-$cmd.1 NAME" "$(sed -n '/^NAME$/,/^$/p' "$TMP/man.txt")" \
    "llamac-$cmd - $("$LLAMAC" --help | sed -n "s/^  $cmd  *//p")"
  expect_contains "llamac-$cmd.1 SYNOPSIS" "$(cat "$TMP/man.txt")" \
    "llamac $cmd $("$LLAMAC" "$cmd" --help | sed -n '1s/^usage: llamac [^ ]* //p')"
done

# llamac(1) names every command's page.
render "$MAN1/llamac.1" > "$TMP/man.txt"
for cmd in $commands; do
  if grep -q "llamac-$cmd(1)" "$TMP/man.txt"; then pass; else fail "llamac(1) does not name llamac-$cmd(1)"; fi
done

# man finds the page by name, as it does once installed (share/man is the prefix's MANPATH entry).
serve=$(MANPATH="$BUILD/man" LC_ALL=C MANWIDTH=200 man llamac-serve 2> "$TMP/man.err")
expect_contains "man llamac-serve" "$serve" "llamac-serve - an OpenAI-compatible HTTP server"
for f in --host --port --api-key --parallel --metrics --grace; do
  if printf '%s\n' "$serve" | grep -qE "^ +(-[^ ,]+, )*$f( |,|\$)"; then pass; else fail "man llamac-serve lacks $f"; fi
done

# What `llamac help --man` does not know is an error on stderr, with nothing on stdout.
for args in "help --man nosuch" "help --man serve run"; do
  rc=0
  # shellcheck disable=SC2086 # the words of the case
  "$LLAMAC" $args > "$TMP/o" 2> "$TMP/e" || rc=$?
  expect_eq "llamac $args: status" "$rc" 2
  expect_eq "llamac $args: nothing on stdout" "$(cat "$TMP/o")" ""
done
expect_contains "unknown command named" "$("$LLAMAC" help --man nosuch 2>&1)" "unknown command 'nosuch'"
finish
