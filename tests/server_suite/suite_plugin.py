"""pytest plugin for running llama.cpp's server test suite, unchanged, offline, from tests/server_suite/run.sh.

The suite is written for its own CI; three things of it are adjusted here rather than in its files:
- ServerPreset.load_all (a session fixture that starts every preset once to download its model) does nothing:
  nothing is downloaded, the stand-in binary maps the models to local files.
- Each ServerProcess gets its own free port on its first start, from a range outside the kernel's ephemeral ports,
  instead of 8080 for all, so that runs beside other servers (other test runs on the machine) do not collide.
- SIGTERM kills the servers before pytest stops, so that none outlives an interrupted run.
- Each test has a time limit (LLAMAC_SUITE_TEST_TIMEOUT seconds, default 180): on expiry its servers are killed and
  the test fails, so a server that hangs fails one test instead of stalling the run.
It writes one line per test to $LLAMAC_SUITE_RESULTS (node id, outcome, first line of the reason) and, to
$LLAMAC_SUITE_RESULTS.jsonl, the same with the tail of the captured output (the server's log), for gap analysis.
"""
import json
import os
import random
import signal
import socket

import pytest

_results = {}
_details = {}
_timeout = int(os.environ.get("LLAMAC_SUITE_TEST_TIMEOUT", "180"))


def _port_free(port):
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError:
            continue  # no IPv6 here: nothing can take the port there either
        try:
            sock.bind((host, port))
        except OSError as e:
            if family == socket.AF_INET6 and e.errno == 99:  # EADDRNOTAVAIL: no ::1
                continue
            return False
        finally:
            sock.close()
    return True


def _free_port():
    rng = random.SystemRandom()
    lo, hi = 20000, 32000  # below Linux's default ephemeral range (32768-60999), where clients' ports come from
    for _ in range(1000):
        port = rng.randrange(lo, hi)
        if _port_free(port):
            return port
    raise RuntimeError("no free port in %d-%d" % (lo, hi))


def pytest_sessionstart(session):
    import utils  # the suite's own module (its folder is on the path by now, through its conftest.py)

    utils.ServerPreset.load_all = staticmethod(lambda: None)
    start = utils.ServerProcess.start

    def start_on_own_port(self, *args, **kwargs):
        if not getattr(self, "_suite_port", False):
            self.server_port = _free_port()
            self._suite_port = True
        return start(self, *args, **kwargs)

    utils.ServerProcess.start = start_on_own_port
    signal.signal(signal.SIGTERM, _on_term)


def _kill_servers():
    import utils

    for server in list(utils.server_instances):
        if server.process is not None:
            server.process.kill()


def _on_term(signum, frame):
    _kill_servers()  # they would outlive pytest otherwise
    raise KeyboardInterrupt


class SuiteTimeout(Exception):
    pass


def _on_alarm(signum, frame):
    _kill_servers()  # unblocks threads still waiting on them
    raise SuiteTimeout("the test ran longer than %d s (LLAMAC_SUITE_TEST_TIMEOUT)" % _timeout)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(_timeout)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _reason(report):
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2])
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return crash.message
    return str(report.longrepr or "")


def pytest_runtest_logreport(report):
    nodeid = report.nodeid
    if report.when == "call" or report.outcome != "passed":
        if _results.get(nodeid, ("passed",))[0] != "passed":
            return  # keep the first outcome that was not a pass (a setup error, then its teardown)
        outcome = report.outcome
        if report.when != "call" and report.outcome == "failed":
            outcome = "error"
        reason = " ".join(_reason(report).split())[:400]
        _results[nodeid] = (outcome, reason)
        if outcome != "passed":
            output = "".join(text for name, text in report.sections if name.startswith("Captured"))
            _details[nodeid] = {"id": nodeid, "outcome": outcome, "reason": reason, "output": output[-6000:]}


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("LLAMAC_SUITE_RESULTS")
    if not path:
        return
    with open(path, "w") as out:
        for nodeid in sorted(_results):
            outcome, reason = _results[nodeid]
            out.write("%s\t%s\t%s\n" % (nodeid, outcome, reason))
    with open(path + ".jsonl", "w") as out:
        for nodeid in sorted(_details):
            out.write(json.dumps(_details[nodeid]) + "\n")
