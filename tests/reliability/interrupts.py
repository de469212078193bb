"""Cancellation and time limits: pg_cancel_backend, statement_timeout and a client that
disconnects, during (a) dune_run polling, dune_wait polling, (b) an HTTP request the emulator
stalls, (c) the middle of a large foreign scan. The backend must be free again quickly
(measured; asserted ≤ 3 s), and an execution the statement started must be cancelled on Dune.

Env: see tests/harness.py; PSQL, the psql binary."""

import os
import subprocess
import sys
import threading
import time

import psycopg

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Tally, connect, emulator, reset  # noqa: E402

BOUND = 3.0  # seconds; the target is 1 s, the bound is generous for a busy machine
TIMEOUT = 1.5  # the statement_timeout used


def stats():
    return emulator("stats?brief=1")


def ready_polling():
    return stats()["requests"].get("status", 0) >= 2


def ready_stalled():
    return stats()["requests"].get("status", 0) >= 1


def ready_streaming():
    return stats()["rows_served"] >= 100_000


SCENARIOS = [
    # name, statement, faults, ready, an execution to cancel on Dune
    ("dune_run polling", "SELECT count(*) FROM dune_run(9000003)", [], ready_polling, True),
    ("dune_wait polling", "SELECT dune_wait(dune_execute(9000003))", [], ready_polling, False),
    ("stalled HTTP request", "SELECT count(*) FROM dune_run(9000003)",
     [{"route": "status", "stall_ms": 30000}], ready_stalled, True),
    ("middle of a large scan", "SELECT count(*) FROM interrupt_big", [], ready_streaming, False),
]


def wait_for(cond, limit=20.0):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return False


def backend_gone(admin, pid):
    return admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()[0] == 0


def backend_idle(admin, pid):
    return admin.execute("SELECT state FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()[0] == "idle"


def in_thread(conn, statement):
    out = {}

    def go():
        try:
            conn.execute(statement).fetchall()
            out["error"] = None
        except psycopg.Error as e:
            out["error"] = e.diag.sqlstate
        out["end"] = time.monotonic()
    th = threading.Thread(target=go)
    th.start()
    return th, out


def by_cancel(admin, statement, ready):
    conn = connect()
    pid = conn.info.backend_pid
    th, out = in_thread(conn, statement)
    if not wait_for(ready):
        return None, "never got going", pid
    start = time.monotonic()
    admin.execute("SELECT pg_cancel_backend(%s)", (pid,))
    th.join(30)
    free = wait_for(lambda: backend_idle(admin, pid), 10)
    conn.close()
    return out.get("end", float("inf")) - start, f"SQLSTATE {out.get('error')}" if free else "still busy", pid


def by_timeout(admin, statement, ready):
    conn = connect()
    pid = conn.info.backend_pid
    conn.execute(f"SET statement_timeout = '{int(TIMEOUT * 1000)}ms'")
    start = time.monotonic()
    th, out = in_thread(conn, statement)
    th.join(30)
    free = wait_for(lambda: backend_idle(admin, pid), 10)
    conn.close()
    # time past the limit
    return out.get("end", float("inf")) - start - TIMEOUT, f"SQLSTATE {out.get('error')}" if free else "still busy", pid


def by_disconnect(admin, statement, ready):
    app = f"interrupts-{time.monotonic_ns()}"
    env = dict(os.environ, PGAPPNAME=app)
    client = subprocess.Popen([os.environ.get("PSQL", "psql"), "-X", "-q", "-c", statement], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    found = []

    def find():
        row = admin.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", (app,)).fetchone()
        if row:
            found.append(row[0])
        return bool(row)
    if not wait_for(find) or not wait_for(ready):
        client.kill()
        return None, "never got going", None
    pid = found[0]
    start = time.monotonic()
    client.kill()  # SIGKILL: the client vanishes without a word, as when a laptop closes
    client.wait()
    gone = wait_for(lambda: backend_gone(admin, pid), 30)
    return (time.monotonic() - start) if gone else None, "backend exited" if gone else "backend still there", pid


METHODS = {"pg_cancel_backend": by_cancel, "statement_timeout": by_timeout, "client disconnect": by_disconnect}


def main():
    t = Tally("reliability interrupts")
    admin = connect()
    admin.execute("""CREATE FOREIGN TABLE IF NOT EXISTS interrupt_big (c03_block bigint, c07_hash bytea)
                     SERVER dune OPTIONS (query_id '9100002', mode 'execute', params '{"rows": "50000000"}')""")
    for name, statement, faults, ready, cancels in SCENARIOS:
        for method, how in METHODS.items():
            what = f"{method} during {name}"
            reset()
            if faults:
                emulator("faults", "POST", faults)
            took, outcome, pid = how(admin, statement, ready)
            ok = took is not None and took <= BOUND and ("57014" in outcome or outcome == "backend exited")
            label = "over the limit" if method == "statement_timeout" else "after"
            print(f"  {what}: {outcome}, free {took if took is None else round(took, 3)} s {label}", flush=True)
            t.check(ok, what, f"{outcome}, {took} s")
            if cancels:
                seen = wait_for(lambda: len(stats()["cancelled"]) >= 1, 10)
                t.check(seen, f"{what}: the execution was cancelled on Dune", str(stats()["cancelled"]))
            t.check(stats()["requests"].get("execute", 0) <= 1, f"{what}: one execute at most")
    admin.execute("SELECT 1")
    reset()
    t.finish()


if __name__ == "__main__":
    main()
