# llama-server's built-in agent tools (--tools: GET and POST /tools) over real HTTP on loopback, in a scratch folder:
# each tool's results and its errors, the limits (a command's time and output, read_file's size), the x-tool-cwd and
# x-tool-runtime headers, streaming, that a timed-out command's whole process group dies, that a long command holds
# up no other request, the 403 without the flag, the flag's own errors, the CORS default, router mode and --agent.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"
M="$MODELS/stories260K.gguf"
W="$TMP/work"
rm -rf "$W"
mkdir -p "$W"
KEY=tools-key

# tool NAME PARAMS [curl args...] : POST /tools into $TMP/body; the status in $code
tool() {
  local name=$1 params=$2
  shift 2
  code=$(curl -s -o "$TMP/body" -w '%{http_code}' -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    "$@" -d "{\"tool\": \"$name\", \"params\": $params}" "$URL/tools")
}
# post BODY [curl args...] : POST /tools with a whole body
post() {
  local body=$1
  shift
  code=$(curl -s -o "$TMP/body" -w '%{http_code}' -H "Authorization: Bearer $KEY" "$@" -d "$body" "$URL/tools")
}
jqr() { jq -r "$1" "$TMP/body"; }
# alive PID : the process runs (a zombie, killed but not yet reaped by whoever inherited it, does not)
alive() { [ -n "$1" ] && [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2> /dev/null)" != Z ]; }
text() { jq -r .plain_text_response "$TMP/body"; }

# --- the flag's errors, and no tools without it
run_llamac "$TMP/o" "$TMP/e" serve -m "$M" --tools read_file,rm_rf
expect_eq "--tools: an unknown tool is refused, named" "$rc:$(grep -c 'unknown tool "rm_rf"; the tools are all, read_file' "$TMP/e")" "2:1"
run_llamac "$TMP/o" "$TMP/e" serve -m "$M" --tools ''
expect_eq "--tools '': refused" "$rc:$(grep -c 'unknown tool ""' "$TMP/e")" "2:1"
run_llamac "$TMP/o" "$TMP/e" serve -m "$M" --tools-runtime ssh:host
expect_eq "--tools-runtime refused" "$rc:$(grep -c 'on its own machine only' "$TMP/e")" "2:1"
start_server P -m "$M" -np 1 -t 1
URL=$P_URL
code=$(curl -s -o "$TMP/body" -w '%{http_code}' "$URL/tools")
expect_eq "GET /tools without --tools: 403" "$code:$(jqr .error.code)" "403:feature_disabled"
post '{"tool": "exec_shell_command", "params": {"command": "touch '"$W"'/pwned"}}'
expect_eq "POST /tools without --tools: 403, nothing runs" "$code:$(jqr .error.code):$([ -e "$W/pwned" ] && echo ran)" \
  "403:feature_disabled:"
kill "$P_PID"
wait "$P_PID" 2> /dev/null

# --- the tools, behind an API key; CORS narrowed to localhost by default
start_server S -m "$M" -np 1 -t 1 --tools all --api-key "$KEY"
URL=$S_URL
expect_contains "--tools: a warning at start" "$(cat "$TMP/S.log")" \
  "the built-in tools are on (--tools): a client with the API key can read and write files and run commands here"
code=$(curl -s -o "$TMP/body" -w '%{http_code}' -X POST -d '{"tool": "get_info"}' "$URL/tools")
expect_eq "POST /tools needs the API key" "$code" 401
hdr() { curl -s -D - -o /dev/null -X OPTIONS -H "Origin: $1" -H 'Access-Control-Request-Method: POST' "$URL/v1/chat/completions" | tr -d '\r' | sed -n 's/^Access-Control-Allow-Origin: //Ip'; }
expect_eq "--tools: CORS allows a localhost page" "$(hdr http://localhost:8080)" "http://localhost:8080"
expect_eq "--tools: CORS refuses another page" "$(hdr http://evil.example)" ""
code=$(curl -s -o "$TMP/body" -w '%{http_code}' -H "Authorization: Bearer $KEY" "$URL/tools")
expect_eq "GET /tools: the seven, in llama-server's order" "$code:$(jqr '[.[].tool] | join(",")')" \
  "200:read_file,file_glob_search,grep_search,exec_shell_command,write_file,edit_file,get_info"
expect_eq "GET /tools: write permission" "$(jqr '[.[] | select(.permissions.write) | .tool] | join(",")')" \
  "exec_shell_command,write_file,edit_file"
expect_eq "GET /tools: definitions" "$(jqr '[.[] | .type + ":" + .definition.function.name + ":" + (.definition.function.parameters.required // [] | join("+"))] | join(",")')" \
  "server:read_file:path,server:file_glob_search:path,server:grep_search:path+pattern,server:exec_shell_command:command,server:write_file:path+content,server:edit_file:path+edits,server:get_info:"

# --- write_file: folders made, exact bytes, permissions kept, links written through, nothing half-written
CWD=(-H "x-tool-cwd: $W")
tool write_file '{"path": "a/b/c.txt", "content": "line1\nline2\nline3\n"}' "${CWD[@]}"
expect_eq "write_file" "$code:$(jqr .result):$(jqr .bytes):$(jqr .path)" "200:file written successfully:18:a/b/c.txt"
printf 'line1\nline2\nline3\n' > "$TMP/expect"
cmp -s "$W/a/b/c.txt" "$TMP/expect" && pass || fail "write_file: the bytes on disk"
chmod 640 "$W/a/b/c.txt"
tool write_file '{"path": "'"$W"'/a/b/c.txt", "content": "new\u00e9\n"}'
expect_eq "write_file: overwrite keeps the mode" "$code:$(stat -c %a "$W/a/b/c.txt"):$(cat "$W/a/b/c.txt")" "200:640:newé"
expect_eq "write_file: no temporary file left" "$(ls -A "$W/a/b")" "c.txt"
ln -s a/b/c.txt "$W/link"
tool write_file '{"path": "link", "content": "via link\n"}' "${CWD[@]}"
expect_eq "write_file: through a link" "$code:$(cat "$W/a/b/c.txt"):$([ -L "$W/link" ] && echo link)" "200:via link:link"
tool write_file '{"path": "a", "content": "x"}' "${CWD[@]}"
expect_contains "write_file: a folder" "$code:$(jqr .error)" "200:failed to write file: a (Is a directory)"
tool write_file '{"path": "x.txt"}' "${CWD[@]}"
expect_eq "write_file: no content: 400" "$code:$(jqr .error.param)" "400:content"
tool write_file '{"path": "x\u0000y", "content": ""}' "${CWD[@]}"
expect_eq "write_file: a NUL in the path: 400" "$code:$(jqr .error.param):$(ls "$W" | grep -c '^x')" "400:path:0"
tool write_file '{"path": 5, "content": ""}' "${CWD[@]}"
expect_eq "write_file: a path of the wrong type: 400" "$code:$(jqr .error.param)" "400:path"
mkdir -p "$W/ro" && chmod 555 "$W/ro"
if [ "$(id -u)" != 0 ]; then
  tool write_file '{"path": "ro/f.txt", "content": "x"}' "${CWD[@]}"
  expect_contains "write_file: a read-only folder" "$code:$(jqr .error)" "200:failed to write file: ro/f.txt (Permission denied)"
  expect_eq "write_file: nothing left in it" "$(ls -A "$W/ro")" ""
fi
chmod 755 "$W/ro"

# --- read_file
printf 'one\ntwo\nthree' > "$W/r.txt"
tool read_file '{"path": "r.txt"}' "${CWD[@]}"
expect_eq "read_file" "$code:$(jqr .plain_text_response)" "200:$(printf 'one\ntwo\nthree\n')"
tool read_file '{"path": "r.txt", "start_line": 2, "end_line": 3, "append_loc": true}' "${CWD[@]}"
expect_eq "read_file: a range, numbered" "$(text)" "$(printf '2\xe2\x86\x92two\n3\xe2\x86\x92three\n')"
head -c 20000 /dev/zero | tr '\0' 'x' | fold -w 99 > "$W/big.txt"
tool read_file '{"path": "big.txt"}' "${CWD[@]}"
expect_eq "read_file: over 16 KiB" "$code:$(jqr .error)" \
  "200:file too large ($(stat -c %s "$W/big.txt") bytes, max 16384). Use start_line/end_line to read a portion."
tool read_file '{"path": "big.txt", "start_line": 1, "end_line": 1000}' "${CWD[@]}"
# 163 lines of 100 bytes fit in 16384, the next does not
expect_eq "read_file: a range of a big file is cut at 16 KiB" "$(jq -j .plain_text_response "$TMP/body" | wc -c)" \
  $((163 * 100 + 18))
expect_contains "read_file: ... and says so" "$(text | tail -1)" "[output truncated]"
tool read_file '{"path": "./a/b/../../r.txt", "start_line": 3}' "${CWD[@]}"
expect_eq "read_file: . and .. in a path" "$code:$(text)" "200:three"
tool read_file '{"path": "nope.txt"}' "${CWD[@]}"
expect_eq "read_file: missing" "$(jqr .error)" "cannot stat file: nope.txt (No such file or directory)"
tool read_file '{"path": "a"}' "${CWD[@]}"
expect_eq "read_file: a folder" "$(jqr .error)" "cannot read a: it is a directory"
tool read_file '{"path": "r.txt", "start_line": 0}' "${CWD[@]}"
expect_eq "read_file: start_line 0: 400" "$code:$(jqr .error.param)" "400:start_line"
printf 'ok\xff\xfe\n' > "$W/bin.txt"
tool read_file '{"path": "bin.txt"}' "${CWD[@]}"
expect_eq "read_file: invalid UTF-8 becomes U+FFFD" "$code:$(text)" "200:ok��"
head -c 3000 /dev/urandom > "$W/blob"
tool read_file '{"path": "blob"}' "${CWD[@]}" -H 'x-resp-type: base64'
jq -r .base64 "$TMP/body" | base64 -d > "$TMP/blob"
expect_eq "read_file: x-resp-type base64" "$(jqr .size_bytes):$(cmp -s "$TMP/blob" "$W/blob" && echo same)" "3000:same"
tool read_file '{"path": "/definitely/not/here", "cwd": "'"$W"'"}' "${CWD[@]}"
expect_contains "read_file: an absolute path ignores the cwd" "$(jqr .error)" "cannot stat file: /definitely/not/here"
tool read_file '{"path": "r.txt", "cwd": "/nowhere"}' "${CWD[@]}"
expect_eq "read_file: params.cwd is not the model's to set" "$code" 200

# --- edit_file
printf 'alpha\nbeta\ngamma\n' > "$W/e.txt"
cp "$W/e.txt" "$TMP/e.orig"
tool edit_file '{"path": "e.txt", "edits": [{"old_text": "beta", "new_text": "BETA"}, {"old_text": "gamma\n", "new_text": "gamma\ndelta\n"}]}' "${CWD[@]}"
expect_eq "edit_file" "$code:$(jqr .result):$(jqr .edits_applied):$(tr '\n' ' ' < "$W/e.txt")" \
  "200:file edited successfully:2:alpha BETA gamma delta "
cp "$TMP/e.orig" "$W/e.txt"
tool edit_file '{"path": "e.txt", "edits": [{"old_text": "a", "new_text": "A"}]}' "${CWD[@]}"
expect_eq "edit_file: not unique" "$(jqr .error)" "found 5 occurrences of edits[0].old_text in e.txt, it must be unique"
tool edit_file '{"path": "e.txt", "edits": [{"old_text": "beta", "new_text": "x"}, {"old_text": "alpha\nbeta", "new_text": "y"}]}' "${CWD[@]}"
expect_eq "edit_file: overlapping edits" "$(jqr .error)" \
  "edits[1] and edits[0] overlap in e.txt; merge them into one edit or target disjoint regions"
tool edit_file '{"path": "e.txt", "edits": [{"old_text": "beta", "new_text": "x"}, {"old_text": "omega", "new_text": "y"}]}' "${CWD[@]}"
expect_eq "edit_file: not found" "$(jqr .error)" \
  "could not find edits[1].old_text in e.txt, it must match the file's current content exactly"
tool edit_file '{"path": "e.txt", "edits": [{"old_text": "beta", "new_text": "beta"}]}' "${CWD[@]}"
expect_eq "edit_file: no change" "$(jqr .error)" "no changes made: the replacement(s) produced identical content"
tool edit_file '{"path": "e.txt", "edits": [{"old_text": "", "new_text": "x"}]}' "${CWD[@]}"
expect_eq "edit_file: empty old_text" "$(jqr .error)" "edits[0].old_text must not be empty"
tool edit_file '{"path": "e.txt", "edits": []}' "${CWD[@]}"
expect_eq "edit_file: no edits" "$(jqr .error)" '"edits" must be a non-empty array'
tool edit_file '{"path": "e.txt", "edits": [{"old_text": "beta"}]}' "${CWD[@]}"
expect_eq "edit_file: an edit without new_text: 400" "$code:$(jqr .error.param)" "400:edits[0]"
tool edit_file '{"path": "e.txt"}' "${CWD[@]}"
expect_eq "edit_file: no edits field: 400" "$code:$(jqr .error.param)" "400:edits"
cmp -s "$W/e.txt" "$TMP/e.orig" && pass || fail "edit_file: a refused edit leaves the file as it was"
# the loose match (llama-server's): trailing blanks and typographic quotes do not stop an edit, and the lines it does
# not touch keep their bytes
printf 'top\t\nsay "hi"  \nkeep  \nend\n' > "$W/q.txt"
tool edit_file '{"path": "q.txt", "edits": [{"old_text": "say \u201chi\u201d\nkeep", "new_text": "say \"bye\"\nkept"}]}' "${CWD[@]}"
expect_eq "edit_file: a loose match" "$code:$(jqr .result):$(od -c "$W/q.txt" | sed 's/^[0-9]* *//' | tr -s ' ' | tr -d '\n')" \
  "200:file edited successfully:$(printf 'top\t\nsay "bye"\nkept\nend\n' | od -c | sed 's/^[0-9]* *//' | tr -s ' ' | tr -d '\n')"
printf 'dup \ndup\n' > "$W/d.txt"
tool edit_file '{"path": "d.txt", "edits": [{"old_text": "dup\n", "new_text": "x\n"}]}' "${CWD[@]}"
expect_eq "edit_file: unique loosely too" "$(jqr .error)" "found 2 occurrences of edits[0].old_text in d.txt, it must be unique"
tool edit_file '{"path": "missing.txt", "edits": [{"old_text": "a", "new_text": "b"}]}' "${CWD[@]}"
expect_eq "edit_file: missing file" "$(jqr .error)" "failed to open file: missing.txt (No such file or directory)"

# --- file_glob_search and grep_search over a tree with a junk folder and a link
G="$TMP/tree"
rm -rf "$G"
mkdir -p "$G/src/deep/er" "$G/build/out" "$G/docs" "$G/empty"
printf 'int main() { return 42; }\n' > "$G/src/main.c"
printf 'static int x = 7;\n// TODO: 42 things\n' > "$G/src/deep/util.c"
printf 'deepest 42\n' > "$G/src/deep/er/z.txt"
printf 'built 42\n' > "$G/build/out/a.c"
printf 'Notes\nmore notes\nTODO later\nend\n' > "$G/docs/notes.txt"
ln -s "$G/src" "$G/src-link"
tool file_glob_search '{"path": "'"$G"'"}'
expect_eq "glob: every file, sorted, junk and links not walked" "$(jqr '[.entries[].path] | join(",")')" \
  "docs/notes.txt,src/main.c,src/deep/util.c,src/deep/er/z.txt"
expect_contains "glob: the total" "$(text)" "Total matches: 4"
expect_eq "glob: base" "$(jqr .base)" "$G"
tool file_glob_search '{"path": "'"$G"'", "include": "*.c"}'
expect_eq "glob: a name pattern at any depth" "$(jqr '[.entries[].path] | join(",")')" "src/main.c,src/deep/util.c"
tool file_glob_search '{"path": "'"$G"'", "include": "src/*.c"}'
expect_eq "glob: a path pattern" "$(jqr '[.entries[].path] | join(",")')" "src/main.c"
tool file_glob_search '{"path": "'"$G"'", "include": "src/**/*.c", "exclude": "main.*"}'
expect_eq "glob: ** and exclude" "$(jqr '[.entries[].path] | join(",")')" "src/deep/util.c"
tool file_glob_search '{"path": "'"$G"'", "type": "dir"}'
expect_eq "glob: folders (junk and links listed, not entered)" "$(jqr '[.entries[].path] | join(",")')" \
  "build,docs,empty,src,src-link,src/deep,src/deep/er"
expect_contains "glob: a folder ends with / in the text" "$(text)" "src/deep/"
tool file_glob_search '{"path": "'"$G"'", "type": "all", "max_depth": 1}'
expect_eq "glob: max_depth 1" "$(jqr '[.entries[] | .path + ":" + .type] | join(",")')" \
  "build:dir,docs:dir,empty:dir,src:dir,src-link:dir"
tool file_glob_search '{"path": "'"$G"'", "limit": 2}'
expect_eq "glob: limit" "$(jqr '.entries | length')" 2
expect_contains "glob: limit says so" "$(text)" "[2 results limit reached (4 total matches)."
tool file_glob_search '{"path": "'"$G"'", "type": "bogus"}'
expect_eq "glob: a bad type" "$(jqr .error)" 'invalid type: bogus (expected "file", "dir" or "all")'
tool file_glob_search '{"path": "'"$G"'", "limit": 0}'
expect_eq "glob: a bad limit" "$(jqr .error)" "invalid limit: 0 (expected 1 or more)"
tool file_glob_search '{"path": "'"$G"'/nope"}'
expect_eq "glob: no such folder" "$(jqr .error)" "path does not exist or is not a directory: $G/nope"

# a pattern with many stars against a long name takes no exponential time
mkdir -p "$TMP/stars"
touch "$TMP/stars/$(printf 'a%.0s' $(seq 1 200))"
start=$(date +%s%N)
tool file_glob_search '{"path": "'"$TMP/stars"'", "include": "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b"}'
ms=$((($(date +%s%N) - start) / 1000000))
expect_eq "glob: many stars, no match" "$code:$(jqr '.entries | length')" "200:0"
[ "$ms" -lt 3000 ] && pass || fail "glob: many stars took ${ms} ms"
tool file_glob_search '{"path": "'"$TMP/stars"'", "include": "**a**a**a**a**a**a**a**a**a**a**a*"}'
expect_eq "glob: many stars, a match" "$code:$(jqr '.entries | length')" "200:1"

tool grep_search '{"path": "'"$G"'", "pattern": "4\\d"}'
expect_eq "grep: \\d, every file but the junk folder's" "$(text)" \
  "$(printf 'src/main.c:int main() { return 42; }\nsrc/deep/util.c:// TODO: 42 things\nsrc/deep/er/z.txt:deepest 42\n\n---\nTotal matches: 3')"
tool grep_search '{"path": "'"$G"'", "pattern": "todo", "ignore_case": true, "include": "*.txt", "return_line_numbers": true}'
expect_eq "grep: ignore_case, include, line numbers" "$(text | head -1)" "docs/notes.txt:3:TODO later"
tool grep_search '{"path": "'"$G"'/docs/notes.txt", "pattern": "TODO", "context_lines": 1}'
expect_eq "grep: one file, context" "$(text)" \
  "$(printf '%s\n' "$G/docs/notes.txt-2-more notes" "$G/docs/notes.txt:3:TODO later" "$G/docs/notes.txt-4-end" "--" "" "---" "Total matches: 1")"
tool grep_search '{"path": "'"$G"'", "pattern": "{ return", "literal": true}'
expect_contains "grep: literal" "$(text)" "Total matches: 1"
tool grep_search '{"path": "'"$G"'", "pattern": "(unclosed"}'
expect_contains "grep: a bad regex" "$(jqr .error)" "invalid regex: "
tool grep_search '{"path": "'"$G"'/nope", "pattern": "x"}'
expect_eq "grep: no such path" "$(jqr .error)" "path does not exist: $G/nope"
tool grep_search '{"path": "'"$G"'"}'
expect_eq "grep: no pattern: 400" "$code:$(jqr .error.param)" "400:pattern"
for i in $(seq 1 150); do echo "hit $i"; done > "$G/docs/many.txt"
tool grep_search '{"path": "'"$G"'/docs", "pattern": "hit"}'
expect_contains "grep: at most 100 matches" "$(text)" "$(printf 'Total matches: 100\n[100 matches limit reached.')"
# in a git repository, what .gitignore leaves out stays out
if command -v git > /dev/null; then
  git -C "$G" init -q && printf 'docs/\n' > "$G/.gitignore"
  tool file_glob_search '{"path": "'"$G"'"}'
  expect_eq "glob: .gitignore in a repository" "$(jqr '[.entries[].path] | sort | join(",")')" \
    ".gitignore,build/out/a.c,src/deep/er/z.txt,src/deep/util.c,src/main.c"
fi

# --- exec_shell_command
tool exec_shell_command '{"command": "echo out; echo err >&2; exit 3"}'
expect_eq "exec: output, stderr too, exit code" "$code:$(text)" "200:$(printf 'out\nerr\n\n[exit code: 3]')"
tool exec_shell_command '{"command": "pwd > where.txt"}' "${CWD[@]}"
expect_eq "exec: in x-tool-cwd" "$(cat "$W/where.txt" 2> /dev/null)" "$W"
tool exec_shell_command '{"command": "pwd"}' -H "x-tool-cwd: $W/nope"
expect_contains "exec: a missing cwd" "$code:$(jqr .error)" "200:working directory $W/nope: No such file or directory"
tool exec_shell_command '{"command": "head -c 100000 /dev/zero | tr \"\\\\0\" y", "max_output_size": 10}'
expect_eq "exec: output capped" "$(text)" "$(printf 'yyyyyyyyyy\n[output truncated]\n[exit code: 0]')"
start=$(date +%s)
tool exec_shell_command '{"command": "sleep 30 & echo $! > '"$W"'/bg.pid; echo started; sleep 30", "timeout": 1}'
took=$(($(date +%s) - start))
expect_eq "exec: timeout" "$(text)" "$(printf 'started\n\n[exit code: 137] [exit due to timed out]')"
[ "$took" -le 5 ] && pass || fail "exec: the timeout took ${took}s"
sleep 0.3
bg=$(cat "$W/bg.pid")
alive "$bg" && fail "exec: a background child of a timed-out command survived ($bg)" || pass
tool exec_shell_command '{"command": "true", "timeout": 0}'
expect_eq "exec: timeout 0: 400" "$code:$(jqr .error.param)" "400:timeout"
# a long command holds up no other request (its own thread, not the engine's)
tool exec_shell_command '{"command": "sleep 3; echo slow"}' &
slow=$!
sleep 0.5
start=$(date +%s%N)
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" -d '{"prompt": "Once", "n_predict": 4}' "$URL/completion")
ms=$((($(date +%s%N) - start) / 1000000))
expect_eq "exec: a completion meanwhile" "$code" 200
[ "$ms" -lt 2500 ] && pass || fail "a completion waited ${ms} ms for a running command"
wait "$slow"
# streamed: a chunk per piece of output, the exit code, then done
curl -s -N -H "Authorization: Bearer $KEY" -d '{"tool": "exec_shell_command", "params": {"command": "echo one; sleep 0.3; echo two"}, "stream": true}' \
  "$URL/tools" > "$TMP/stream"
sed -n 's/^data: //p' "$TMP/stream" > "$TMP/events"
expect_eq "exec stream: chunks" "$(jq -rs '[.[] | .chunk // empty] | join("")' "$TMP/events")" \
  "$(printf 'one\ntwo\n\n[exit code: 0]')"
expect_eq "exec stream: ends with done" "$(tail -1 "$TMP/events")" '{"done":true}'
expect_eq "exec stream: two pieces of output" "$(grep -c chunk "$TMP/events")" 3
# a client that goes away kills the command
curl -s -N -m 1 -H "Authorization: Bearer $KEY" -d '{"tool": "exec_shell_command", "params": {"command": "echo $$ > '"$W"'/gone.pid; sleep 20"}, "stream": true}' \
  "$URL/tools" > /dev/null
sleep 1.5
alive "$(cat "$W/gone.pid")" && fail "exec stream: the command outlived its client" || pass
# a stream's output is capped too, and bytes that are not UTF-8 arrive as U+FFFD in valid JSON
curl -s -N -H "Authorization: Bearer $KEY" -d '{"tool": "exec_shell_command", "params": {"command": "printf \"ab\\377cdefgh\"", "max_output_size": 5}, "stream": true}' \
  "$URL/tools" | sed -n 's/^data: //p' > "$TMP/events"
expect_eq "exec stream: capped, not UTF-8" "$(jq -rs '[.[] | .chunk // empty] | join("")' "$TMP/events")" \
  "$(printf 'ab\xef\xbf\xbdcd\n[output truncated]\n[exit code: 0]')"
post '{"tool": "read_file", "params": {"path": "x"}, "stream": true}'
expect_eq "stream: only exec_shell_command" "$code:$(jqr .error.message)" '404:tool "read_file" does not support stream = true'

# --- get_info, and the call's own errors
tool get_info '{}' "${CWD[@]}"
expect_eq "get_info" "$code:$(jqr .cwd):$(jqr '.os | startswith("Linux")')" "200:$W:true"
post '{"tool": "rm_rf", "params": {}}'
expect_eq "an unknown tool: 404" "$code:$(jqr .error.message)" '404:unknown tool "rm_rf"'
post '{"params": {}}'
expect_eq "no tool: 400" "$code:$(jqr .error.param)" "400:tool"
post '{"tool": "get_info", "params": []}'
expect_eq "params not an object: 400" "$code:$(jqr .error.param)" "400:params"
post '{"tool": '
expect_eq "bad JSON: 400" "$code:$(jqr .error.code)" "400:invalid_json"
# x-tool-runtime: checked as llama-server checks it (its statuses and messages), then refused
for rt in "fake:does-not-exist|500|unknown tool runtime: fake:does-not-exist" \
  "ssh:-oProxyCommand=touch /tmp/x|500|invalid ssh target: -oProxyCommand=touch /tmp/x" \
  "docker-container:--privileged|500|invalid container id: --privileged" \
  "podman:busybox|500|tool runtime must name a running container: podman:busybox" \
  "ssh:me@host|501|tool runtime ssh:me@host: llamac serve runs the built-in tools on its own machine only"; do
  IFS='|' read -r h want msg <<< "$rt"
  tool exec_shell_command '{"command": "touch '"$W"'/ran"}' -H "x-tool-runtime: $h"
  expect_contains "x-tool-runtime $h" "$code:$(jqr .error.message)" "$want:$msg"
done
[ -e "$W/ran" ] && fail "x-tool-runtime: a refused runtime ran the command on the host" || pass
kill "$S_PID"
wait "$S_PID" 2> /dev/null

# --- an explicit --cors-origins stands; router mode answers /tools itself
mkdir -p "$TMP/nomodels"
start_server R --models-dir "$TMP/nomodels" --tools get_info,read_file --cors-origins '*'
URL=$R_URL
expect_eq "--cors-origins * stands with --tools" "$(hdr http://evil.example)" "http://evil.example"
code=$(curl -s -o "$TMP/body" -w '%{http_code}' "$URL/tools")
expect_eq "router: GET /tools, only those enabled" "$code:$(jqr '[.[].tool] | join(",")')" "200:read_file,get_info"
tool read_file '{"path": "'"$W"'/r.txt"}'
expect_eq "router: read_file" "$code:$(text | head -1)" "200:one"
tool write_file '{"path": "'"$W"'/no.txt", "content": "x"}'
expect_eq "router: a tool not enabled is unknown" "$code:$([ -e "$W/no.txt" ] && echo written)" "404:"
kill "$R_PID"
wait "$R_PID" 2> /dev/null
# --- --agent (llama-server's): every tool and /cors-proxy, CORS narrowed to localhost; --no-agent after it undoes both
start_server A -m "$M" -np 1 -t 1 --agent
URL=$A_URL
code=$(curl -s -o "$TMP/body" -w '%{http_code}' "$URL/tools")
expect_eq "--agent: GET /tools, all seven" "$code:$(jqr 'length')" "200:7"
code=$(curl -s -o "$TMP/body" -w '%{http_code}' "$URL/cors-proxy?url=$URL/health")
expect_eq "--agent: /cors-proxy forwards" "$code:$(jqr .status)" "200:ok"
expect_eq "--agent: CORS refuses another page" "$(hdr http://evil.example)" ""
kill "$A_PID"
wait "$A_PID" 2> /dev/null
start_server N -m "$M" -np 1 -t 1 --agent --no-agent
URL=$N_URL
code=$(curl -s -o "$TMP/body" -w '%{http_code}' "$URL/tools")
expect_eq "--agent --no-agent: no tools" "$code" "403"
code=$(curl -s -o "$TMP/body" -w '%{http_code}' "$URL/cors-proxy?url=$URL/health")
expect_eq "--agent --no-agent: no proxy" "$code" "403"
kill "$N_PID"
wait "$N_PID" 2> /dev/null
finish
