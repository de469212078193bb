"""Load: concurrent sessions mixing dune_latest, dune_run and foreign-table scans against the
emulator, with injected 429s. Reports requests served, errors, each backend's memory at the
start and end, and threads/sockets left in the backends afterwards.

Env: PGHOST, PGPORT (a cluster with dune_fdw installed and pointed at the emulator),
DUNE_API_URL, SESSIONS (16), SECONDS (20)."""

import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import connect, emulator, proc_status as status, sockets  # noqa: E402

SESSIONS = int(os.environ.get("SESSIONS", "16"))
SECONDS = float(os.environ.get("SECONDS", "20"))


WORK = [
    ("SELECT count(*) FROM dune_latest(1252207)", 28),
    ("SELECT count(*) FROM dune_run(3493826)", 8),
    ("SELECT count(*) FROM load_trades WHERE project = 'uniswap'", None),
    ("SELECT count(*) FROM (SELECT * FROM load_wide LIMIT 500) s", 500),
    ("SELECT count(*) FROM dune_latest_results WHERE query_id = 1258228", 12),
]


def session(i, out):
    conn = connect()
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    conn.execute("SELECT count(*) FROM dune_latest(3493826)").fetchone()  # load the library, warm up
    start = status(pid, "RssAnon")
    rng = random.Random(i)
    done, errors, deadline = 0, [], time.time() + SECONDS
    while time.time() < deadline:
        sql, want = WORK[rng.randrange(len(WORK))]
        try:
            got = conn.execute(sql).fetchone()[0]
            if want is not None and got != want:
                errors.append(f"{sql}: {got} rows, expected {want}")
            done += 1
        except Exception as e:  # noqa: BLE001 - every error counts
            errors.append(f"{sql}: {e}")
    time.sleep(0.5)  # let helper threads finish
    out[i] = {"pid": pid, "queries": done, "errors": errors, "rss_start_kb": start, "rss_end_kb": status(pid, "RssAnon"),
              "threads": status(pid, "Threads"), "sockets": sockets(pid)}
    conn.close()


def main():
    setup = connect()
    setup.execute("""CREATE FOREIGN TABLE IF NOT EXISTS load_trades (block_time timestamptz, project text, amount_usd float8)
                     SERVER dune OPTIONS (query_id '9100001', params '{"rows": "5000"}')""")
    setup.execute("SELECT dune_wait(dune_execute(9100001, '{\"rows\": \"5000\"}'))")
    setup.execute("""CREATE FOREIGN TABLE IF NOT EXISTS load_wide (c03_block bigint, c07_hash bytea) SERVER dune OPTIONS (query_id '9100002')""")
    emulator("reset", "POST")
    # one 429 every 41 requests (each rule waits for the previous one to have fired)
    rules = [{"route": "*", "skip": 40, "times": 1, "status": 429, "retry_after": "0"} for _ in range(60)]
    emulator("faults", "POST", rules)
    out = {}
    threads = [threading.Thread(target=session, args=(i, out)) for i in range(SESSIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = emulator("stats?brief=1")
    queries = sum(s["queries"] for s in out.values())
    errors = [e for s in out.values() for e in s["errors"]]
    growth = [(s["rss_end_kb"] - s["rss_start_kb"]) / 1024 for s in out.values()]
    leftover_threads = sum(s["threads"] - 1 for s in out.values())
    print(f"load: {SESSIONS} sessions × {SECONDS:.0f} s: {queries} queries, {stats['total_requests']} API requests served "
          f"({stats['faults_injected']} answered 429), {len(errors)} errors")
    print(f"load: backend RssAnon growth from warm-up to end: min {min(growth):+.1f} MB, max {max(growth):+.1f} MB")
    print(f"load: helper threads left in backends: {leftover_threads}; sockets per backend at the end: "
          f"{sorted(s['sockets'] for s in out.values())}")
    for e in errors[:10]:
        print("  error:", e)
    failed = len(errors) + (1 if leftover_threads else 0)
    print(f"load: {1 if failed == 0 else 0} passed, {1 if failed else 0} failed")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
