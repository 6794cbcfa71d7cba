#!/usr/bin/env python3
# The driver of bench/soak.sh: N mixed requests against each server (llamac serve and llama-server, both already
# listening), in blocks of 1,000 interleaved between them, C at a time; after each block the server's RSS
# (/proc/PID/status). Prints each server's RSS slope (KiB per 1,000 requests, least squares over the blocks after the
# first, which warms the caches), its RSS after the first block and at the end, and its replies by kind and status,
# as a table and a JSON line.
#   soak.py N CONCURRENCY NAME:PORT:PID [NAME:PORT:PID ...]
import http.client
import json
import socket
import sys
import threading

N, C = int(sys.argv[1]), int(sys.argv[2])
SERVERS = [dict(zip(("name", "port", "pid"), s.split(":"))) for s in sys.argv[3:]]
BLOCK = 1000

# The mix, by weight: what clients send, including mistakes and clients that go away mid-stream.
CHAT = {"messages": [{"role": "user", "content": "Tell me a story."}], "max_tokens": 8}
KINDS = [
    ("chat", 20, "POST", "/v1/chat/completions", CHAT),
    ("chat_stream", 15, "POST", "/v1/chat/completions", dict(CHAT, stream=True)),
    ("completion", 15, "POST", "/v1/completions", {"prompt": "Once upon a time", "max_tokens": 8}),
    ("tokenize", 15, "POST", "/tokenize", {"content": "Once upon a time there was a little girl", "with_pieces": True}),
    ("embeddings", 10, "POST", "/v1/embeddings", {"input": "a little dog ran to the park"}),
    ("bad_json", 5, "POST", "/v1/chat/completions", '{"messages": [}'),
    ("bad_field", 5, "POST", "/v1/completions", {"prompt": 5, "max_tokens": "many"}),
    ("not_found", 5, "GET", "/v1/nothing", None),
    ("disconnect", 10, "POST", "/v1/completions", {"prompt": "Once upon a time", "max_tokens": 64, "stream": True}),
]
SCHEDULE = [k for k in KINDS for _ in range(k[1])]


def one(port, i, tally, lock):
    kind, _, method, path, body = SCHEDULE[i % len(SCHEDULE)]
    data = body if isinstance(body, str) or body is None else json.dumps(body)
    status = "error"
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        status = resp.status
        if kind == "disconnect":
            resp.read(64)  # the stream's first bytes, then the client is gone
            conn.sock.shutdown(socket.SHUT_RDWR)
        else:
            resp.read()
        conn.close()
    except (OSError, http.client.HTTPException):
        pass
    with lock:
        key = "%s %s" % (kind, status)
        tally[key] = tally.get(key, 0) + 1


def block(server, start, n, tally):
    lock = threading.Lock()
    nxt = [start]

    def worker():
        while True:
            with lock:
                i = nxt[0]
                if i >= start + n:
                    return
                nxt[0] += 1
            one(int(server["port"]), i, tally, lock)

    threads = [threading.Thread(target=worker) for _ in range(C)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def rss_kib(pid):
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def slope(xs, ys):
    """Least-squares slope of ys over xs."""
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0


for s in SERVERS:
    s["tally"], s["rss"] = {}, [rss_kib(s["pid"])]
done = 0
while done < N:
    n = min(BLOCK, N - done)
    for s in SERVERS:
        block(s, done, n, s["tally"])
        s["rss"].append(rss_kib(s["pid"]))
    done += n
    print("soak: %d / %d requests each: %s" % (done, N, ", ".join("%s %d MiB" % (s["name"], s["rss"][-1] >> 10)
                                                                    for s in SERVERS)), file=sys.stderr, flush=True)

out = {"bench": "soak", "requests": N, "concurrency": C, "servers": {}}
print("| server | requests | RSS after 1,000 (MiB) | RSS last (MiB) | RSS slope (KiB per 1,000 requests) |")
print("| --- | ---: | ---: | ---: | ---: |")
for s in SERVERS:
    xs = [i * BLOCK for i in range(1, len(s["rss"]))][1:]  # after the first block
    ys = s["rss"][2:]
    k = slope(xs, ys) * 1000 if len(ys) >= 2 else 0.0
    print("| %s | %d | %.1f | %.1f | %.1f |" % (s["name"], N, s["rss"][1] / 1024, s["rss"][-1] / 1024, k))
    out["servers"][s["name"]] = {"rss_kib": s["rss"], "slope_kib_per_1000": round(k, 2),
                                 "replies": dict(sorted(s["tally"].items()))}
for s in SERVERS:
    print("%s replies: %s" % (s["name"], ", ".join("%s: %d" % kv for kv in sorted(s["tally"].items()))))
print(json.dumps(out))
