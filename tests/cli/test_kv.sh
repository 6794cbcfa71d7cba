# `llamac kv`: the memory table, rotation stated for a model that cannot rotate (stories260K, head size 8) and one
# that does (a synthesized llama with head size 64), --quality measured against an F16 cache, JSON, SVG and PNG output.
. "$(dirname "$0")/lib.sh"
M="$MODELS/stories260K.gguf"
TEXT="$LLAMAC_SOURCE_DIR/tests/reference/kv/story.txt"

# memory table for stories260K: 5 layers x 4 KV heads x head size 8, so 640 bytes per token in F16
run_llamac "$TMP/o" "$TMP/e" kv -m "$M" --ctx 2048,32768
expect_eq "table status" "$rc" 0
out=$(cat "$TMP/o")
expect_contains "rotation inactive" "$out" "rotation: inactive for every type: head size 8 is not a multiple of 64"
expect_contains "f16 row" "$(grep '^f16 ' "$TMP/o")" "640 B     1.25 MiB    20.00 MiB     0.0%  1.00x"
expect_contains "q8_0 row" "$(grep '^q8_0 ' "$TMP/o")" "1.0625    1.0625      340 B   680.00 KiB    10.62 MiB    46.9%  1.88x"
expect_contains "q4_0 row" "$(grep '^q4_0 ' "$TMP/o")" "0.5625    0.5625      180 B   360.00 KiB     5.62 MiB    71.9%  3.56x"
expect_contains "refusal explained" "$out" "* cannot be created: q4_0: K cache type q4_0 stores blocks of 32 values, which do not divide the head size 8"
# K and V types may differ (the figures of a configuration that cannot be created are still given). Two sequences
# get a stream of 256 cells each: 512 cells x (34 + 64) bytes x 5 layers
run_llamac "$TMP/o" "$TMP/e" kv -m "$M" --ctx 256 --types q8_0/f16,f16/q4_0 -fa off -np 2
expect_eq "pairs status" "$rc" 0
expect_contains "pair row" "$(grep '^q8_0/f16 ' "$TMP/o")" "1.0625    2.0000      490 B   245.00 KiB"
expect_contains "quantized V refused" "$(cat "$TMP/o")" "* cannot be created: f16/q4_0: a quantized V cache (q4_0) needs flash attention"
expect_contains "sequences stated" "$(cat "$TMP/o")" "2 sequences"

# a head-size-64 model: rotation is active for quantized types
"$LLAMAC" synth -q --arch llama --layers 2 --embd 128 --heads 2 --ffn 256 --untied-output --seed 5 --init-std 0.1 \
    --vocab-from "$M" -o "$TMP/h64.gguf"
run_llamac "$TMP/o" "$TMP/e" kv -m "$TMP/h64.gguf" --ctx 4096 --types f16,q4_0
expect_eq "h64 table status" "$rc" 0
expect_contains "rotation active" "$(cat "$TMP/o")" "rotation: active for quantized types (head size 64 is a multiple of 64)"
expect_contains "h64 q4_0 row" "$(grep '^q4_0 ' "$TMP/o")" "288 B     1.12 MiB    71.9%  3.56x"

# quality: F16 gives exactly 0, q4_0 more than 0, and the rotation is really on for one run and off for the other
run_llamac "$TMP/o" "$TMP/e" kv -m "$TMP/h64.gguf" -t 1 --types f16,q4_0,q8_0/q4_0 -c 128 -n 24 --quality "$TEXT" \
    --json "$TMP/q.json" --plot "$TMP/q.svg"
expect_eq "quality status" "$rc" 0
expect_contains "honest wording" "$(cat "$TMP/o")" "Rotation is exact in real arithmetic, but a quantized cache is not"
expect_contains "chunks as llama-perplexity" "$(cat "$TMP/o")" "3 chunks of 128 tokens, 189 tokens scored"
run_llamac "$TMP/o2" "$TMP/e" kv -m "$TMP/h64.gguf" -t 1 --types f16,q4_0 -c 128 -n 4 --chunks 2 --quality "$TEXT" \
    --plot "$TMP/q.png"
expect_contains "--chunks" "$(cat "$TMP/o2")" "2 chunks of 128 tokens, 126 tokens scored"
# the PNG: signature, IHDR 640x390 RGB (wider when the title, 6 pixels a character, needs it), every chunk's CRC-32 right, the IDAT a zlib stream of 390 rows of filter
# byte 0 + 640 RGB pixels, and the tallest bar (q4_0, rotation on or off) 300 pixels high in its colour
node -e '
const d = require("fs").readFileSync(process.argv[1]), bad = [];
const crcTab = [];
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  crcTab[n] = c >>> 0;
}
const crc = b => {
  let c = 0xffffffff;
  for (const x of b) c = crcTab[(c ^ x) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};
if (!d.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) bad.push("signature");
let o = 8, types = [], idat = [], w = 0, h = 0;
while (o + 12 <= d.length) {
  const n = d.readUInt32BE(o), type = d.toString("latin1", o + 4, o + 8), body = d.subarray(o + 8, o + 8 + n);
  if (crc(d.subarray(o + 4, o + 8 + n)) !== d.readUInt32BE(o + 8 + n)) bad.push("CRC of " + type);
  if (type === "IHDR") { w = body.readUInt32BE(0); h = body.readUInt32BE(4);
    if (body[8] !== 8 || body[9] !== 2 || body[12] !== 0) bad.push("IHDR format"); }
  if (type === "IDAT") idat.push(body);
  types.push(type); o += 12 + n;
}
if (o !== d.length || types[0] !== "IHDR" || types[types.length - 1] !== "IEND") bad.push("chunks " + types);
const title = "KL divergence from an F16 KV cache: " + process.argv[2] + " on " + process.argv[3];
if (w !== Math.max(640, 20 + 6 * title.length - 1) || h !== 390) bad.push("size " + w + "x" + h);
const px = require("zlib").inflateSync(Buffer.concat(idat));
if (px.length !== w * h * 3 + h) bad.push("IDAT inflates to " + px.length);
if (bad.length) { console.error(bad.join("\n")); process.exit(1); }
let tallest = 0;
for (let x = 0; x < w; x++) {
  let run = 0;
  for (let y = 0; y < h; y++) {
    const p = y * (w * 3 + 1) + 1 + x * 3, rgb = (px[p] << 16) | (px[p + 1] << 8) | px[p + 2];
    run = rgb === 0x1f77b4 || rgb === 0xff7f0e ? run + 1 : 0;
    tallest = Math.max(tallest, run);
  }
}
for (let y = 0; y < h; y++) if (px[y * (w * 3 + 1)] !== 0) { bad.push("filter byte of row " + y); break; }
if (tallest !== 300) bad.push("tallest bar " + tallest);
if (bad.length) { console.error(bad.join("\n")); process.exit(1); }
' "$TMP/q.png" "$TMP/h64.gguf" "$TEXT" 2> "$TMP/node.err"
expect_eq "png checks $(cat "$TMP/node.err")" "$?" 0
node -e '
const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const r = j.quality.results, bad = [];
const find = (k, v, rot) => r.find(x => x.type_k === k && x.type_v === v && x.rotation === rot);
for (const rot of ["on", "off"]) {
  const f = find("f16", "f16", rot), q = find("q4_0", "q4_0", rot);
  if (f.mean_kld !== 0 || f.max_kld !== 0 || f.ppl !== j.quality.f16_ppl || f.same_top !== 1 || f.diverge_char !== null)
    bad.push("f16 " + rot + " is not exactly the F16 reference");
  if (!(q.mean_kld > 0) || !(q.ppl > 0)) bad.push("q4_0 " + rot + " shows no difference");
  if (q.rotated !== (rot === "on")) bad.push("q4_0 " + rot + ": rotated " + q.rotated);
}
if (find("q4_0", "q4_0", "on").ppl === find("q4_0", "q4_0", "off").ppl) bad.push("rotation changed nothing");
if (!find("q8_0", "q4_0", "on")) bad.push("the K/V pair is missing");
if (j.memory.length !== 3 || j.memory[0].sizes[0].bytes !== 2 * 2 * 128 * 2 * 2048) bad.push("memory figures");
if (j.quality.scored_tokens !== 189 || j.quality.chunk !== 128) bad.push("chunking");
if (bad.length) { console.error(bad.join("\n")); process.exit(1); }
' "$TMP/q.json" 2> "$TMP/node.err"
expect_eq "quality JSON checks $(cat "$TMP/node.err")" "$?" 0
expect_eq "svg written" "$(head -c 4 "$TMP/q.svg")" "<svg"
expect_eq "svg has 6 bars" "$(grep -c '<rect x=' "$TMP/q.svg")" 6

# stories260K: F16 exact again; a quantized cache is refused with the reason (no block of 32 fits a head of 8)
run_llamac "$TMP/o" "$TMP/e" kv -m "$M" -t 1 -fa off --types f16,q8_0/f16 -c 128 -n 16 --quality "$TEXT" --json "$TMP/s.json"
expect_eq "stories quality status" "$rc" 0
expect_contains "refused in the table" "$(grep '^q8_0/f16 ' "$TMP/o" | sed -n 2p)" "skipped: K cache type q8_0 stores blocks of 32 values, which do not divide the head size 8"
node -e '
const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const r = j.quality.results;
const ok = r[0].mean_kld === 0 && r[1].mean_kld === 0 && r[0].rotated === false && r[1].rotated === false &&
           /not quantized/.test(r[0].rotation_inactive) && /head size 8/.test(r[2].skipped) && r[2].ppl === undefined;
process.exit(ok ? 0 : 1);
' "$TMP/s.json"
expect_eq "stories JSON checks" "$?" 0

# a row of 8 values cannot be stored in blocks of 32 at all: that row says so, the others are printed
"$LLAMAC" synth -q --arch llama --layers 1 --embd 32 --heads 4 --kv-heads 1 --vocab-from "$M" -o "$TMP/kv8.gguf"
run_llamac "$TMP/o" "$TMP/e" kv -m "$TMP/kv8.gguf" --types f16,q4_0
expect_eq "unstorable status" "$rc" 0
expect_contains "unstorable row" "$(grep '^q4_0 ' "$TMP/o")" "a K row of 8 elements cannot be stored as q4_0 (blocks of 32)"
expect_contains "f16 row still there" "$(grep '^f16 ' "$TMP/o")" "1.00x"
# and a context with it is refused, where llama.cpp would abort
run_llamac "$TMP/o" "$TMP/e" run -m "$TMP/kv8.gguf" -ctk q4_0 -fa off -n 2 -p "Once"
expect_eq "refused, not aborted" "$rc" 1
expect_contains "refusal message" "$(cat "$TMP/e")" "do not divide the head size 8"

# fidelity: the perplexity is llama-perplexity's, with an F16 cache and with quantized
# (rotated) ones (tests/reference/kv/ppl.txt, written by scripts/reference/kv-perplexity.sh)
if [ -f "$REF/kv/ppl.txt" ]; then
  while read -r model chunk type ppl; do
    path="$MODELS/$model"
    [ "$model" != h64 ] || path="$TMP/h64.gguf"
    run_llamac "$TMP/o" "$TMP/e" kv -m "$path" -t 1 -fa on --types "$type" -c "$chunk" -n 1 --quality "$TEXT"
    if [ "$type" = f16 ]; then
      got=$(sed -n 's/^F16 cache: PPL //p' "$TMP/o")
    else
      got=$(awk -v t="$type" '$1 == t && $2 == "on" { print $3 }' "$TMP/o")
    fi
    # to the 4 decimals it prints on the CPU the references were written on; on another CPU (other SIMD kernels,
    # another order of sums) within 1e-4 of it (measured on an AVX2-only AMD EPYC against AVX-512 references: 5e-5)
    python3 -c 'import sys; g, r = sys.argv[1], float(sys.argv[2]); sys.exit(0 if g and abs(float(g) - r) <= 1e-4 * r else 1)' \
      "$got" "$ppl" && pass ||
      fail "perplexity of $model, chunks of $chunk, $type cache: $got, llama-perplexity's $ppl (at most 1e-4 apart)"
  done < "$REF/kv/ppl.txt"
fi

# errors
run_llamac "$TMP/o" "$TMP/e" kv -m "$M" --types q3_k
expect_eq "bad type status" "$rc" 2
expect_contains "bad type message" "$(cat "$TMP/e")" "unknown KV cache type 'q3_k'"
run_llamac "$TMP/o" "$TMP/e" kv -m "$M" --ctx 2048,abc
expect_eq "bad ctx status" "$rc" 2
run_llamac "$TMP/o" "$TMP/e" kv -m "$M" --plot "$TMP/x.svg"
expect_eq "plot without quality" "$rc" 2
run_llamac "$TMP/o" "$TMP/e" kv -m "$M" --quality "$TEXT" --plot "$TMP/x.gif"
expect_eq "plot as gif" "$rc" 2
expect_contains "plot as gif message" "$(cat "$TMP/e")" "--plot writes SVG or PNG, chosen by the extension"
run_llamac "$TMP/o" "$TMP/e" kv -m "$TMP/h64.gguf" -t 1 --types f16 -c 128 -n 1 --chunks 2 --quality "$TEXT" \
    --plot "$TMP/no-such-dir/x.png"
expect_eq "unwritable png status" "$rc" 1
expect_contains "unwritable png message" "$(cat "$TMP/e")" "cannot write '$TMP/no-such-dir/x.png'"
run_llamac "$TMP/o" "$TMP/e" kv -m "$M" -c 512 --quality "$TEXT"
expect_eq "text too short status" "$rc" 1
expect_contains "text too short message" "$(cat "$TMP/e")" "needs at least 1024"
run_llamac "$TMP/o" "$TMP/e" kv -m "$M" --quality "$TMP/missing.txt"
expect_eq "missing text status" "$rc" 1
finish
