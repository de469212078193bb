"""Shared by the Python tests (load, reliability): the emulator's control API, connections to
the test cluster, readings of a backend from /proc, and a pass/fail tally.

Env: PGHOST, PGPORT, PGDATABASE (a cluster with dune_fdw installed), DUNE_API_URL."""

import json
import os
import time
import urllib.error
import urllib.request

import psycopg

ROOT = os.environ["DUNE_API_URL"].removesuffix("/api")
API_URL = os.environ["DUNE_API_URL"]


def emulator(path, method="GET", body=None):
    """Calls /_emulator/<path>; body is JSON-encoded. Waits out a refusal the tests asked for."""
    data = None if body is None else json.dumps(body).encode()
    deadline = time.time() + 30
    while True:
        req = urllib.request.Request(f"{ROOT}/_emulator/{path}", method=method, data=data)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return json.loads(r.read())
        except urllib.error.URLError as e:
            if not isinstance(e.reason, ConnectionRefusedError) or time.time() > deadline:
                raise
            time.sleep(0.1)


def reset():
    """Clears the emulator's counters and faults."""
    return emulator("reset", "POST")


def connect(**kw):
    return psycopg.connect(host=os.environ["PGHOST"], port=os.environ["PGPORT"], user=kw.pop("user", "postgres"),
                           dbname=kw.pop("dbname", os.environ.get("PGDATABASE", "postgres")), autocommit=True, **kw)



def proc_status(pid, field):
    """A field of /proc/<pid>/status, in its unit (kB for memory)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def sockets(pid):
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                n += 1
        except OSError:
            pass
    return n


MARK = "\x00"


def with_constants(sql, prepared, mark=MARK):
    """A statement whose constants are marked (`<mark>expr<mark>`): with them inlined, or with
    $1, $2, … and the arguments for EXECUTE (a prepared statement)."""
    parts = sql.split(mark)
    if not prepared:
        return "".join(parts), []
    text, args = [], []
    for i, part in enumerate(parts):
        if i % 2:
            args.append(part)
            text.append(f"${len(args)}")
        else:
            text.append(part)
    return "".join(text), args


class Tally:
    """Counts checks and prints `<name>: N passed, M failed` at the end (read by scripts/test.sh)."""

    def __init__(self, name):
        self.name, self.passed, self.failed = name, 0, []

    def check(self, ok, what, why=""):
        if ok:
            self.passed += 1
        else:
            self.failed.append(what)
            print(f"FAIL {what}: {why}", flush=True)
        return ok

    def finish(self):
        print(f"{self.name}: {self.passed} passed, {len(self.failed)} failed", flush=True)
        raise SystemExit(1 if self.failed else 0)
