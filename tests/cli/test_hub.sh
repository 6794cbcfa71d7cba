# `llamac pull`, `llamac rm` and -hf, against a fake Hugging Face Hub on loopback (tests/hub/fake_hub.js): quant
# selection, split models, resume after a dropped connection, sha256 mismatch, offline mode, where the token goes,
# gated and missing repos, and the huggingface_hub cache layout. The served bytes are real models, so the
# downloaded files are loaded and run.
. "$(dirname "$0")/lib.sh" || exit 1
command -v node > /dev/null || { echo "node not installed: skipping" >&2; exit 77; }
M="$MODELS/stories260K.gguf"
M2="$MODELS/stories260K-chatml.gguf"
W="$TMP/hub"
rm -rf "$W"
mkdir -p "$W/src"
sha() { sha256sum < "$1" | cut -d' ' -f1; }

# The files the fake Hub serves: the model under several quant names, a 3-shard split, an mmproj, a README.
"$LLAMAC" split -q --split-max-tensors 8 "$M" "$W/src/shard" > /dev/null
n_shards=$(ls "$W/src"/shard-*.gguf 2> /dev/null | wc -l)
[ "$n_shards" -ge 2 ] && [ "$n_shards" -le 9 ] || { echo "llamac split did not make 2-9 shards" >&2; exit 1; }
printf 'not really a projector\n' > "$W/src/mmproj.bin"
printf '# stories\n' > "$W/src/README.md"
C1=1111111111111111111111111111111111111111
C2=2222222222222222222222222222222222222222
shard_files=""
for f in "$W/src"/shard-*.gguf; do
  n=$(basename "$f" | sed 's/shard-\(.*\)\.gguf/\1/')
  shard_files="$shard_files{\"path\": \"Q4_K_M/stories-Q4_K_M-$n.gguf\", \"src\": \"$f\", \"lfs\": true},"
done
cat > "$W/config.json" <<JSON
{"repos": {
  "test/stories-GGUF": {"commit": "$C1", "files": [
    {"path": "README.md", "src": "$W/src/README.md", "lfs": false},
    {"path": "stories260K-F16.gguf", "src": "$M2", "lfs": true},
    {"path": "stories260K-Q4_K_M.gguf", "src": "$M", "lfs": true},
    {"path": "stories260K-Q8_0.gguf", "src": "$M2", "lfs": true},
    {"path": "mmproj-stories-f16.gguf", "src": "$W/src/mmproj.bin", "lfs": true}]},
  "test/split-GGUF": {"commit": "$C2", "files": [${shard_files%,}]},
  "test/ambiguous-GGUF": {"commit": "$C1", "files": [
    {"path": "m-Q2_K.gguf", "src": "$M", "lfs": true}, {"path": "m-Q5_K_M.gguf", "src": "$M2", "lfs": true}]},
  "test/drop-GGUF": {"commit": "$C1", "files": [{"path": "m-Q4_K_M.gguf", "src": "$M", "lfs": true, "mode": "drop"}]},
  "test/bad-GGUF": {"commit": "$C1", "files": [{"path": "m-Q4_K_M.gguf", "src": "$M", "lfs": true, "mode": "wrong"}]},
  "test/slow-GGUF": {"commit": "$C1", "files": [{"path": "m-Q8_0.gguf", "src": "$M2", "lfs": true, "mode": "slow"}]},
  "test/gated-GGUF": {"commit": "$C1", "token": "hf_sekrit", "files": [{"path": "m-Q4_K_M.gguf", "src": "$M", "lfs": true}]}
}}
JSON
LOG="$W/requests.log"
fake_hub "$W"
CACHE="$HF_HOME/hub"
R="$CACHE/models--test--stories-GGUF"

# default quant: Q4_K_M, printed as its snapshot path; the cache layout is huggingface_hub's
run_llamac "$TMP/o" "$TMP/e" pull test/stories-GGUF
expect_eq "pull status" "$rc" 0
expect_eq "pull prints the snapshot path" "$(cat "$TMP/o")" "$R/snapshots/$C1/stories260K-Q4_K_M.gguf"
expect_eq "snapshot is a relative link to the blob" "$(readlink "$R/snapshots/$C1/stories260K-Q4_K_M.gguf")" \
  "../../blobs/$(sha "$M")"
expect_eq "blob named by its sha256" "$(sha "$R/blobs/$(sha "$M")")" "$(sha "$M")"
expect_eq "refs/main holds the commit" "$(cat "$R/refs/main")" "$C1"
expect_eq "blobs hold nothing else" "$(ls "$R/blobs")" "$(sha "$M")"
expect_eq "API calls: refs then tree at the commit" \
  "$(grep -c "\"/api/models/test/stories-GGUF/refs\"\|\"/api/models/test/stories-GGUF/tree/$C1?recursive=true\"" "$LOG")" 2
expect_contains "file fetched through resolve at the commit" "$(cat "$LOG")" \
  "\"/test/stories-GGUF/resolve/$C1/stories260K-Q4_K_M.gguf\""

# the downloaded model loads and generates what the original does
run_llamac "$TMP/a" "$TMP/e" run -m "$M" -p "Once upon a time" -n 16 --temp 0
run_llamac "$TMP/b" "$TMP/e" run -hf test/stories-GGUF -p "Once upon a time" -n 16 --temp 0
expect_eq "run -hf status" "$rc" 0
expect_eq "run -hf generates as -m does" "$(cat "$TMP/b")" "$(cat "$TMP/a")"
expect_eq "run -hf from the cache: no second download" "$(grep -c '"server":"cdn"' "$LOG")" 1
run_llamac "$TMP/o" "$TMP/e" run -hf test/stories-GGUF -m "$M" -p x -n 1
expect_eq "-hf with -m" "$rc" 1
expect_contains "-hf with -m message" "$(cat "$TMP/e")" "not both"
run_llamac "$TMP/o" "$TMP/e" tokenize --hf-repo test/stories-GGUF --hf-file stories260K-Q4_K_M.gguf -p "Once"
expect_eq "--hf-repo/--hf-file on tokenize" "$rc" 0

# explicit quants, case-insensitive; a missing quant lists what exists
run_llamac "$TMP/o" "$TMP/e" pull test/stories-GGUF:q8_0
expect_eq "pull :q8_0" "$(basename "$(cat "$TMP/o")")" "stories260K-Q8_0.gguf"
expect_eq "Q8_0 bytes" "$(sha "$(cat "$TMP/o")")" "$(sha "$M2")"
run_llamac "$TMP/o" "$TMP/e" pull test/stories-GGUF:Q5_K_S
expect_eq "missing quant status" "$rc" 1
expect_contains "missing quant message" "$(cat "$TMP/e")" "no GGUF file for quant Q5_K_S in test/stories-GGUF"
expect_contains "missing quant lists the files" "$(cat "$TMP/e")" "stories260K-F16.gguf, stories260K-Q4_K_M.gguf"
run_llamac "$TMP/o" "$TMP/e" pull test/ambiguous-GGUF
expect_eq "ambiguous status" "$rc" 1
expect_contains "ambiguous message" "$(cat "$TMP/e")" "no Q4_K_M or Q8_0 file but several others"
expect_contains "ambiguous lists" "$(cat "$TMP/e")" "m-Q2_K.gguf, m-Q5_K_M.gguf"
run_llamac "$TMP/o" "$TMP/e" pull test/ambiguous-GGUF m-Q5_K_M.gguf
expect_eq "a file by name" "$(basename "$(cat "$TMP/o")")" "m-Q5_K_M.gguf"
run_llamac "$TMP/o" "$TMP/e" pull test/stories-GGUF README.md
expect_eq "a non-LFS file" "$(cat "$(cat "$TMP/o")")" "# stories"
run_llamac "$TMP/o" "$TMP/e" pull test/stories-GGUF nope.gguf
expect_contains "missing file" "$(cat "$TMP/e")" "no file 'nope.gguf' in test/stories-GGUF"
run_llamac "$TMP/o" "$TMP/e" pull --mmproj test/stories-GGUF:F16
expect_eq "--mmproj: model then projector" "$(xargs -n1 basename < "$TMP/o" | tr '\n' ' ')" \
  "stories260K-F16.gguf mmproj-stories-f16.gguf "
# run -hf with --image takes the repo's projector too (this one is not a projector, so loading it fails and says
# which file it was); --no-mmproj with --image is a usage error.
run_llamac "$TMP/o" "$TMP/e" run -hf test/stories-GGUF:F16 --image "$W/src/README.md" -p x -q
expect_eq "run -hf --image status" "$rc" 1
expect_contains "run -hf --image loads the repo's projector" "$(cat "$TMP/e")" \
  "llamac run: projector $R/snapshots/$C1/mmproj-stories-f16.gguf: "
run_llamac "$TMP/o" "$TMP/e" run -hf test/stories-GGUF:F16 --no-mmproj --image "$W/src/README.md" -p x
expect_eq "run -hf --no-mmproj --image" "$rc:$(cat "$TMP/e")" \
  "2:llamac run: --image and --audio need a projector: pass --mmproj FILE (not --no-mmproj)"

# a split model: every shard, in order, in its folder; llama.cpp loads it from the first
run_llamac "$TMP/o" "$TMP/e" pull test/split-GGUF
expect_eq "split: one line per shard" "$(wc -l < "$TMP/o")" "$n_shards"
expect_eq "split: first shard first" "$(head -1 "$TMP/o")" \
  "$CACHE/models--test--split-GGUF/snapshots/$C2/Q4_K_M/stories-Q4_K_M-00001-of-0000$n_shards.gguf"
expect_eq "split: link one folder deeper" "$(readlink "$(head -1 "$TMP/o")")" \
  "../../../blobs/$(sha "$W/src/shard-00001-of-0000$n_shards.gguf")"
run_llamac "$TMP/b" "$TMP/e" run -hf test/split-GGUF -p "Once upon a time" -n 16 --temp 0
expect_eq "split model runs as the original" "$(cat "$TMP/b")" "$(cat "$TMP/a")"

# a connection that drops mid-file: resumed with a Range request, and the result is whole
run_llamac "$TMP/o" "$TMP/e" pull -q test/drop-GGUF
expect_eq "resume status" "$rc" 0
expect_eq "resumed file is whole" "$(sha "$(cat "$TMP/o")")" "$(sha "$M")"
expect_eq "first request without Range" "$(grep '"server":"cdn"' "$LOG" | grep 'drop-GGUF' | head -1 | grep -c '"range":null')" 1
expect_contains "then a Range request" "$(grep '"server":"cdn"' "$LOG" | grep 'drop-GGUF' | sed -n 2p)" \
  "\"range\":\"bytes=$(( $(stat -c %s "$M") * 4 / 10 ))-\""

# a partial file left by an earlier, interrupted run is continued, not restarted
D="$CACHE/models--test--drop-GGUF"
"$LLAMAC" rm test/drop-GGUF 2> /dev/null
mkdir -p "$D/blobs"
head -c 100000 "$M" > "$D/blobs/$(sha "$M").incomplete"
run_llamac "$TMP/o" "$TMP/e" pull -q test/drop-GGUF
expect_eq "resume across runs" "$rc:$(sha "$(cat "$TMP/o")")" "0:$(sha "$M")"
expect_contains "resume across runs: Range from the partial size" "$(tail -1 "$LOG")" '"range":"bytes=100000-"'
expect_eq "no partial left" "$(ls "$D/blobs")" "$(sha "$M")"

# wrong bytes: rejected, nothing left behind
run_llamac "$TMP/o" "$TMP/e" pull test/bad-GGUF
expect_eq "sha mismatch status" "$rc" 1
expect_contains "sha mismatch message" "$(cat "$TMP/e")" "sha256 mismatch for m-Q4_K_M.gguf of test/bad-GGUF"
expect_eq "no snapshot after a mismatch" "$(find "$CACHE/models--test--bad-GGUF" -path '*snapshots*' -type l | wc -l)" 0
expect_eq "no blob after a mismatch" "$(ls "$CACHE/models--test--bad-GGUF/blobs" | wc -l)" 0

# two pulls of one file at once: both succeed, one blob
"$LLAMAC" pull -q test/slow-GGUF > "$TMP/p1" 2> "$TMP/e1" & p1=$!
"$LLAMAC" pull -q test/slow-GGUF > "$TMP/p2" 2> "$TMP/e2" & p2=$!
rc1=0; wait $p1 || rc1=$?
rc2=0; wait $p2 || rc2=$?
expect_eq "concurrent pulls" "$rc1 $rc2" "0 0"
expect_eq "concurrent: same path" "$(cat "$TMP/p1")" "$(cat "$TMP/p2")"
expect_eq "concurrent: whole file" "$(sha "$(cat "$TMP/p1")")" "$(sha "$M2")"
expect_eq "concurrent: downloaded once" "$(grep '"server":"cdn"' "$LOG" | grep -c 'slow-GGUF')" 1

# offline: hits come from the cache without a request, misses say what is missing
before=$(wc -l < "$LOG")
rc=0; HF_HUB_OFFLINE=1 "$LLAMAC" pull test/stories-GGUF > "$TMP/o" 2> "$TMP/e" || rc=$?
expect_eq "offline hit" "$rc:$(cat "$TMP/o")" "0:$R/snapshots/$C1/stories260K-Q4_K_M.gguf"
run_llamac "$TMP/o" "$TMP/e" tokenize --offline -hf test/stories-GGUF:Q8_0 -p "Once upon a time"
expect_eq "offline tokenize -hf" "$rc:$(cat "$TMP/o")" "0:$("$LLAMAC" tokenize -m "$M2" -p "Once upon a time")"
expect_eq "offline: no request" "$(wc -l < "$LOG")" "$before"
run_llamac "$TMP/o" "$TMP/e" pull --offline test/gated-GGUF
expect_eq "offline miss status" "$rc" 1
expect_contains "offline miss message" "$(cat "$TMP/e")" "offline: test/gated-GGUF is not in the cache"
run_llamac "$TMP/o" "$TMP/e" pull --offline test/ambiguous-GGUF:Q2_K
expect_contains "offline quant miss" "$(cat "$TMP/e")" "no GGUF file for quant Q2_K in test/ambiguous-GGUF (offline"
# a cache written by another tool (huggingface_hub's layout, made by hand) is used as is
H="$CACHE/models--other--hand-GGUF"
mkdir -p "$H/blobs" "$H/refs" "$H/snapshots/$C2"
cp "$M" "$H/blobs/$(sha "$M")"
ln -s "../../blobs/$(sha "$M")" "$H/snapshots/$C2/hand-Q4_K_M.gguf"
printf '%s' "$C2" > "$H/refs/main"
run_llamac "$TMP/o" "$TMP/e" pull --offline other/hand-GGUF
expect_eq "offline: another tool's cache" "$(cat "$TMP/o")" "$H/snapshots/$C2/hand-Q4_K_M.gguf"

# the token: sent to the Hub, never to the host it redirects to; gated repos without it say so
run_llamac "$TMP/o" "$TMP/e" pull test/gated-GGUF
expect_eq "gated without token" "$rc" 1
expect_contains "gated message" "$(cat "$TMP/e")" "test/gated-GGUF is gated or private"
expect_contains "gated message names HF_TOKEN" "$(cat "$TMP/e")" "set HF_TOKEN"
rc=0; HF_TOKEN=hf_sekrit "$LLAMAC" pull test/gated-GGUF > "$TMP/o" 2> "$TMP/e" || rc=$?
expect_eq "gated with HF_TOKEN" "$rc" 0
expect_eq "token sent to the Hub" "$(grep '"server":"hub"' "$LOG" | grep 'gated-GGUF' | grep -c 'Bearer hf_sekrit')" 3
expect_eq "token never sent to the CDN" "$(grep '"server":"cdn"' "$LOG" | grep -c 'Bearer')" 0
"$LLAMAC" rm test/gated-GGUF 2> /dev/null
printf 'hf_sekrit\n' > "$HF_HOME/token"
run_llamac "$TMP/o" "$TMP/e" pull test/gated-GGUF
expect_eq "token from \$HF_HOME/token" "$rc" 0
rm -f "$HF_HOME/token"

# errors: no such repo, no Hub, bad names
run_llamac "$TMP/o" "$TMP/e" pull test/missing-GGUF
expect_eq "404 status" "$rc" 1
expect_contains "404 message" "$(cat "$TMP/e")" "repository test/missing-GGUF not found"
rc=0; HF_ENDPOINT=http://127.0.0.1:1 "$LLAMAC" pull test/missing-GGUF > "$TMP/o" 2> "$TMP/e" || rc=$?
expect_eq "unreachable status" "$rc" 1
expect_contains "unreachable message" "$(cat "$TMP/e")" "cannot reach the Hub at http://127.0.0.1:1"
# an unreachable Hub falls back to what the cache holds of the repo, and says so when that is not enough
rc=0; HF_ENDPOINT=http://127.0.0.1:1 "$LLAMAC" pull test/stories-GGUF:Q8_0 > "$TMP/o" 2> "$TMP/e" || rc=$?
expect_eq "unreachable, cached" "$rc:$(cat "$TMP/o")" "0:$R/snapshots/$C1/stories260K-Q8_0.gguf"
rc=0; HF_ENDPOINT=http://127.0.0.1:1 "$LLAMAC" pull test/stories-GGUF:Q5_K_S > "$TMP/o" 2> "$TMP/e" || rc=$?
expect_eq "unreachable, not cached: status" "$rc" 1
expect_contains "unreachable, not cached: message" "$(cat "$TMP/e")" \
  "cannot reach the Hub at http://127.0.0.1:1: Couldn't connect to server; and the cache cannot stand in: no GGUF file for quant Q5_K_S"
rc=0; HF_TOKEN=$'bad\ntoken' "$LLAMAC" pull test/stories-GGUF > "$TMP/o" 2> "$TMP/e" || rc=$?
expect_contains "token with a newline" "$rc:$(cat "$TMP/e")" "2:llamac pull: the Hub token contains a control character"
run_llamac "$TMP/o" "$TMP/e" pull no-slash
expect_eq "bad name status" "$rc" 2
expect_contains "bad name message" "$(cat "$TMP/e")" "not a Hub model name"
run_llamac "$TMP/o" "$TMP/e" pull "test/../etc"
expect_eq "path in name" "$rc" 2
run_llamac "$TMP/o" "$TMP/e" run --hf-file x.gguf -p x
expect_contains "--hf-file without -hf" "$(cat "$TMP/e")" "--hf-file needs -hf"

# on a terminal: a picker when the name is ambiguous, and a download bar with rate and ETA
if command -v script > /dev/null; then
  rm -rf "$CACHE/models--test--ambiguous-GGUF"
  printf '2\n' | script -qec "'$LLAMAC' pull test/ambiguous-GGUF" /dev/null > "$TMP/pty" 2>&1
  expect_contains "picker lists" "$(cat "$TMP/pty")" "2) m-Q5_K_M.gguf"
  expect_contains "picker: chosen file pulled" "$(cat "$TMP/pty")" "snapshots/$C1/m-Q5_K_M.gguf"
  expect_contains "download bar" "$(cat "$TMP/pty")" "1.1 MiB / 1.1 MiB"
  expect_contains "download bar: ETA" "$(cat "$TMP/pty")" "ETA"
  printf '\n' | script -qec "'$LLAMAC' pull test/ambiguous-GGUF:Q3_K" /dev/null > "$TMP/pty" 2>&1
  expect_contains "picker cancelled" "$(cat "$TMP/pty")" "llamac pull: no file chosen"
fi

# --list: the cache, or a repo's files; rm: a quant, then the repo
run_llamac "$TMP/o" "$TMP/e" pull --list
expect_contains "list cache" "$(cat "$TMP/o")" "$(printf 'test/stories-GGUF\tstories260K-Q4_K_M.gguf\t1.1 MiB')"
expect_contains "list cache: split" "$(cat "$TMP/o")" "$(printf 'test/split-GGUF\tQ4_K_M/stories-Q4_K_M-00001-of-0000%s.gguf' "$n_shards")"
run_llamac "$TMP/o" "$TMP/e" pull --list test/stories-GGUF
expect_contains "list repo" "$(cat "$TMP/o")" "$(printf 'stories260K-Q8_0.gguf\t1.1 MiB\tcached')"
run_llamac "$TMP/o" "$TMP/e" rm test/stories-GGUF:Q8_0
expect_eq "rm quant status" "$rc" 0
expect_eq "rm quant: link gone" "$(test -e "$R/snapshots/$C1/stories260K-Q8_0.gguf"; echo $?)" 1
expect_eq "rm quant: others stay" "$(test -e "$R/snapshots/$C1/stories260K-Q4_K_M.gguf"; echo $?)" 0
expect_eq "rm quant: blob still used by F16 stays" "$(test -e "$R/blobs/$(sha "$M2")"; echo $?)" 0
run_llamac "$TMP/o" "$TMP/e" rm test/stories-GGUF
expect_eq "rm repo" "$rc:$(test -e "$R"; echo $?)" "0:1"
run_llamac "$TMP/o" "$TMP/e" rm test/stories-GGUF
expect_eq "rm again status" "$rc" 1
expect_contains "rm again message" "$(cat "$TMP/e")" "nothing cached matches 'test/stories-GGUF'"

finish
