// Validates llamac's output against person.schema.json, keyword by keyword (no validator library needed).
// usage: node check_person.js FILE...   exits non-zero naming the first file and rule that fails.
const fs = require('fs');
function fail(file, why) { console.error(`${file}: ${why}`); process.exit(1); }
for (const file of process.argv.slice(2)) {
  const text = fs.readFileSync(file, 'utf8');
  let v;
  try { v = JSON.parse(text); } catch (e) { fail(file, `not JSON (${e.message}): ${text}`); }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(file, 'not an object');
  const keys = ['name', 'age', 'mood', 'born', 'code', 'tags'];
  for (const k of Object.keys(v)) if (!keys.includes(k)) fail(file, `unexpected property ${k}`);
  for (const k of keys) if (!(k in v)) fail(file, `missing ${k}`);
  const n = [...v.name].length;
  if (typeof v.name !== 'string' || n < 1 || n > 12) fail(file, `name ${JSON.stringify(v.name)}`);
  if (!Number.isInteger(v.age) || v.age < 0 || v.age > 120) fail(file, `age ${v.age}`);
  if (!['happy', 'sad', null].includes(v.mood)) fail(file, `mood ${v.mood}`);
  if (!/^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/.test(v.born)) fail(file, `born ${v.born}`);
  if (!/^[A-Z]{2}-\d{3}$/.test(v.code)) fail(file, `code ${v.code}`);
  if (!Array.isArray(v.tags) || v.tags.length < 1 || v.tags.length > 3) fail(file, 'tags length');
  for (const t of v.tags) if (!['red', 'green', 'blue'].includes(t)) fail(file, `tag ${t}`);
}
