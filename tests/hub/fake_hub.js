// fake_hub.js - a stand-in for the Hugging Face Hub on loopback, for tests/cli/test_hub.sh.
//
// It answers the API shapes llamac (and llama.cpp, huggingface_hub) use: GET /api/models/{repo}/refs,
// GET /api/models/{repo}/tree/{commit}?recursive=true, and GET /{repo}/resolve/{rev}/{path}, which for LFS files
// redirects (302, X-Linked-Etag, X-Repo-Commit, X-Linked-Size) to a second server on another host name and port
// playing the CDN, where Range requests get 206. Per file, the config can make the first download drop mid-file,
// serve wrong bytes, trickle slowly, or stall after 64 KiB; per repo, it can require a token (gated). Every request is logged as one
// JSON line (server, method, url, range, authorization) so the tests can check what was sent where.
//
// usage: node fake_hub.js CONFIG.json PORTS_FILE LOG_FILE
//   CONFIG: {"repos": {"owner/name": {"commit": "<40 hex>", "token": "secret"?,
//            "files": [{"path": "x.gguf", "src": "/local/file", "lfs": true, "mode": "ok|drop|wrong|slow|stall"}]}}}
//   PORTS_FILE receives "HUB_PORT CDN_PORT" once both listen.
'use strict';
const http = require('http');
const fs = require('fs');
const crypto = require('crypto');

const [config_path, ports_path, log_path] = process.argv.slice(2);
const config = JSON.parse(fs.readFileSync(config_path, 'utf8'));
const repos = {};
for (const [name, repo] of Object.entries(config.repos)) {
  const files = repo.files.map((f) => {
    const data = fs.readFileSync(f.src);
    const sha = crypto.createHash('sha256').update(data).digest('hex');
    const git = crypto.createHash('sha1').update('blob ' + data.length + '\0').update(data).digest('hex');
    return { ...f, data, sha, git, served: 0 };
  });
  repos[name] = { ...repo, files };
}
let cdn_port = 0;

function log(server, req) {
  const line = JSON.stringify({ server, method: req.method, url: req.url, range: req.headers.range || null,
                                authorization: req.headers.authorization || null });
  fs.appendFileSync(log_path, line + '\n');
}

function json(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function not_found(res, code, message) {
  json(res, 404, { error: message }, { 'X-Error-Code': code, 'X-Error-Message': message });
}

// "owner/name" from the front of a path, and the rest.
function split_repo(parts) {
  if (parts.length < 2) return [null, []];
  return [parts[0] + '/' + parts[1], parts.slice(2)];
}

function authorized(repo, req) {
  return !repo.token || req.headers.authorization === 'Bearer ' + repo.token;
}

const hub = http.createServer((req, res) => {
  log('hub', req);
  const url = new URL(req.url, 'http://x');
  const parts = url.pathname.split('/').filter((p) => p.length).map(decodeURIComponent);
  if (parts[0] === 'api' && parts[1] === 'models') {
    const [name, rest] = split_repo(parts.slice(2));
    const repo = repos[name];
    if (!repo) return not_found(res, 'RepoNotFound', 'Repository not found');
    if (rest[0] === 'refs') {
      return json(res, 200, { branches: [{ name: 'main', ref: 'refs/heads/main', targetCommit: repo.commit }],
                              converts: [], tags: [] });
    }
    if (rest[0] === 'tree') {
      if (rest[1] !== repo.commit && rest[1] !== 'main') {
        return not_found(res, 'RevisionNotFound', 'Invalid rev id: ' + rest[1]);
      }
      const items = [];
      const dirs = new Set();
      for (const f of repo.files) {
        const segs = f.path.split('/');
        for (let i = 1; i < segs.length; i++) dirs.add(segs.slice(0, i).join('/'));
      }
      for (const d of dirs) items.push({ type: 'directory', oid: '0'.repeat(40), size: 0, path: d });
      for (const f of repo.files) {
        const item = { type: 'file', oid: f.git, size: f.data.length, path: f.path };
        if (f.lfs) item.lfs = { oid: f.sha, size: f.data.length, pointerSize: 134 };
        items.push(item);
      }
      return json(res, 200, items);
    }
    return not_found(res, 'EntryNotFound', 'unknown API path');
  }
  const [name, rest] = split_repo(parts);
  const repo = repos[name];
  if (!repo || rest[0] !== 'resolve') return not_found(res, 'RepoNotFound', 'Repository not found');
  if (!authorized(repo, req)) {
    const msg = 'Access to model ' + name + ' is restricted. You must have access to it and be authenticated.';
    return json(res, 401, { error: msg }, { 'X-Error-Code': 'GatedRepo', 'X-Error-Message': msg });
  }
  if (rest[1] !== repo.commit && rest[1] !== 'main') return not_found(res, 'RevisionNotFound', 'Invalid rev id');
  const path = rest.slice(2).join('/');
  const f = repo.files.find((x) => x.path === path);
  if (!f) return not_found(res, 'EntryNotFound', path + ' does not exist on "main"');
  const common = { 'X-Repo-Commit': repo.commit };
  if (!f.lfs) {
    res.writeHead(200, { ...common, ETag: '"' + f.git + '"', 'Content-Length': f.data.length });
    return res.end(f.data);
  }
  const location = 'http://localhost:' + cdn_port + '/blobs/' + encodeURIComponent(name) + '/' +
                   encodeURIComponent(path) + '?sig=fake';
  res.writeHead(302, { ...common, Location: location, 'X-Linked-Etag': '"' + f.sha + '"',
                       'X-Linked-Size': String(f.data.length), ETag: '"' + f.git + '"', 'Content-Length': 0 });
  res.end();
});

const cdn = http.createServer((req, res) => {
  log('cdn', req);
  const url = new URL(req.url, 'http://x');
  const parts = url.pathname.split('/').filter((p) => p.length).map(decodeURIComponent);
  const repo = repos[parts[1]];
  const f = repo && repo.files.find((x) => x.path === parts[2]);
  if (parts[0] !== 'blobs' || !f) {
    res.writeHead(404);
    return res.end();
  }
  f.served++;
  let data = f.data;
  if (f.mode === 'wrong') {
    data = Buffer.from(data);
    data[data.length >> 1] ^= 0xff;
  }
  let start = 0;
  const m = /^bytes=(\d+)-$/.exec(req.headers.range || '');
  if (m) start = Number(m[1]);
  if (start > data.length) {
    res.writeHead(416, { 'Content-Range': 'bytes */' + data.length });
    return res.end();
  }
  const body = data.subarray(start);
  const headers = { 'Content-Length': body.length, 'Accept-Ranges': 'bytes', ETag: '"' + f.sha + '"',
                    'Content-Type': 'application/octet-stream' };
  if (m) headers['Content-Range'] = 'bytes ' + start + '-' + (data.length - 1) + '/' + data.length;
  res.writeHead(m ? 206 : 200, headers);
  if (f.mode === 'drop' && f.served === 1) {
    // The first transfer breaks off after 40% of the file.
    res.write(body.subarray(0, Math.floor(body.length * 0.4)), () => setTimeout(() => req.socket.destroy(), 50));
    return;
  }
  if (f.mode === 'stall') {
    // A stalled Hub: the first 64 KiB, then nothing more on an open connection.
    res.write(body.subarray(0, 65536));
    return;
  }
  if (f.mode === 'slow') {
    let off = 0;
    const step = () => {
      if (off >= body.length) return res.end();
      const next = Math.min(off + 65536, body.length);
      res.write(body.subarray(off, next));
      off = next;
      setTimeout(step, 25);
    };
    return step();
  }
  res.end(body);
});

let listening = 0;
function ready() {
  if (++listening === 2) {
    cdn_port = cdn.address().port;
    fs.writeFileSync(ports_path + '.tmp', hub.address().port + ' ' + cdn_port + '\n');
    fs.renameSync(ports_path + '.tmp', ports_path);
  }
}
hub.listen(0, '127.0.0.1', ready);
cdn.listen(0, '127.0.0.1', ready);
process.on('SIGTERM', () => process.exit(0));
