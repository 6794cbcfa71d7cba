#!/usr/bin/env python3
# The load of tests/abuse/test_serve_capacity.sh against `llamac serve` on loopback, with real sockets (asyncio):
#   idle N      N keep-alive connections, each after one GET /health, spread over the client addresses 127.0.0.2..
#   slow N      N slowloris clients: a request line, then one header byte a second, never done
#   streams N   N concurrent streaming completions (POST /v1/completions, "stream": true, HTTP/1.0 so that the body is
#               plain SSE), each counted to its `data: [DONE]`
#   probe       GET /health on a new connection every 100 ms while the streams run, timed to the last byte, from a
#               process of its own
# Phases (argv): "streams" runs the streams alone; "abuse" opens the idle and slow connections first, keeps them, and
# runs the streams with the probes; it then checks which idle and slow connections the server still holds. Prints one
# JSON object. Figures only: the shell test asserts.
import asyncio
import json
import sys
import time

PORT = int(sys.argv[1])
PHASE = sys.argv[2]
N_IDLE, N_SLOW, N_STREAMS, MAX_TOKENS = (int(a) for a in sys.argv[3:7])
PID = int(sys.argv[7]) if len(sys.argv) > 7 else 0
HOST = "127.0.0.1"
PER_ADDR = 250  # connections per client address (the server's per-address limit is far above it)


def addr(i, base):
    n = base + i // PER_ADDR
    return "127.0.%d.%d" % (n // 250, 2 + n % 250)


async def connect(local):
    return await asyncio.open_connection(HOST, PORT, local_addr=(local, 0))


async def read_response(r):
    """A whole HTTP/1.x response with Content-Length: (status, body)."""
    head = await r.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body = await r.readexactly(length)
    return status, body


async def idle_conn(i, sem, out):
    async with sem:
        r, w = await connect(addr(i, 0))
        w.write(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _ = await read_response(r)
    out.append((r, w, status))


async def slow_conn(i, sem, out, stop):
    async with sem:
        r, w = await connect(addr(i, 200))
    w.write(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    out.append((r, w))
    try:
        while not stop.is_set():
            await asyncio.sleep(1)
            w.write(b"a")
            await w.drain()
    except (ConnectionError, OSError):
        pass


def still_open(r):
    """Has the server kept this connection (nothing to read, no EOF)?"""
    return not r.at_eof() and len(r._buffer) == 0 and not r._transport.is_closing()  # noqa: SLF001


async def stream(i, results):
    body = json.dumps(
        {"prompt": "Once upon a time", "max_tokens": MAX_TOKENS, "temperature": 0, "stream": True}
    ).encode()
    t0 = time.monotonic()
    r, w = await connect("127.0.1.%d" % (2 + i % 250))
    w.write(
        b"POST /v1/completions HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
        % (len(body), body)
    )
    head = await r.readuntil(b"\r\n\r\n")
    tokens, done, first = 0, False, None
    while True:
        line = await r.readline()
        if not line:
            break
        if line.startswith(b"data: [DONE]"):
            done = True
        elif line.startswith(b"data: "):
            if json.loads(line[6:])["choices"][0].get("text"):
                tokens += 1
                first = first or time.monotonic()
    w.close()
    results.append(
        {"status": int(head.split(b" ", 2)[1]), "tokens": tokens, "done": done, "t": time.monotonic() - t0,
         "first": (first or time.monotonic()) - t0}
    )


def probe_forever():
    """Phase "probe" (a process of its own, so that the load's event loop does not delay it): GET /health on a new
    connection every 100 ms, each time in ms and whether it was a 200 printed as a line, until killed."""
    import socket

    while True:
        t0 = time.monotonic()
        ok = False
        try:
            s = socket.create_connection((HOST, PORT), timeout=5, source_address=("127.0.2.250", 0))
            s.sendall(b"GET /health HTTP/1.0\r\n\r\n")
            data = b""
            while True:
                got = s.recv(4096)
                if not got:
                    break
                data += got
            s.close()
            ok = data.startswith(b"HTTP/1.0 200") or data.startswith(b"HTTP/1.1 200")
        except OSError:
            pass
        print("%.2f %d" % ((time.monotonic() - t0) * 1000, ok), flush=True)
        time.sleep(0.1)


def proc_status():
    if not PID:
        return {}
    out = {}
    with open("/proc/%d/status" % PID) as f:
        for line in f:
            k, v = line.split(":", 1)
            if k in ("Threads", "VmRSS"):
                out[k] = int(v.split()[0])
    return out


async def run_streams(res):
    results = []
    t0 = time.monotonic()
    await asyncio.gather(*(stream(i, results) for i in range(N_STREAMS)))
    wall = time.monotonic() - t0
    tokens = sum(x["tokens"] for x in results)
    res["streams_ok"] = sum(1 for x in results if x["status"] == 200 and x["done"])
    res["tokens"] = tokens
    res["wall_s"] = round(wall, 3)
    res["tokens_per_s"] = round(tokens / wall, 1)
    res["slowest_stream_s"] = round(max(x["t"] for x in results), 3)
    res["first_token_max_s"] = round(max(x["first"] for x in results), 3)


async def main():
    if PHASE == "probe":
        probe_forever()
    res = {"before": proc_status()}
    if PHASE == "streams":
        await run_streams(res)
        print(json.dumps(res), flush=True)
        return
    sem = asyncio.Semaphore(200)
    idle, slow, stop = [], [], asyncio.Event()
    t0 = time.monotonic()
    await asyncio.gather(*(idle_conn(i, sem, idle) for i in range(N_IDLE)))
    slow_tasks = [asyncio.ensure_future(slow_conn(i, sem, slow, stop)) for i in range(N_SLOW)]
    while len(slow) < N_SLOW:
        await asyncio.sleep(0.05)
    res["open_s"] = round(time.monotonic() - t0, 2)
    res["idle_answered"] = sum(1 for _, _, st in idle if st == 200)
    await asyncio.sleep(1.5)  # every slow client has trickled a byte or two
    res["held"] = proc_status()
    prober = await asyncio.create_subprocess_exec(
        sys.executable, __file__, str(PORT), "probe", "0", "0", "0", "0", stdout=asyncio.subprocess.PIPE
    )
    await asyncio.sleep(0.3)
    await run_streams(res)
    res["during"] = proc_status()
    prober.terminate()
    out, _ = await prober.communicate()
    lat = [(float(a), b == "1") for a, b in (line.split() for line in out.decode().splitlines())]
    ms = sorted(x[0] for x in lat)
    res["health_n"] = len(lat)
    res["health_ok"] = sum(1 for x in lat if x[1])
    res["health_ms_max"] = round(ms[-1], 1) if ms else None  # none: the streams ended before the first probe
    res["health_ms_median"] = round(ms[len(ms) // 2], 1) if ms else None
    await asyncio.sleep(0.2)
    res["idle_open"] = sum(1 for r, _, _ in idle if still_open(r))
    res["slow_open"] = sum(1 for r, _ in slow if still_open(r))
    stop.set()
    for _, w, _ in idle:
        w.close()
    for _, w in slow:
        w.close()
    await asyncio.gather(*slow_tasks, return_exceptions=True)
    print(json.dumps(res), flush=True)


asyncio.run(main())
