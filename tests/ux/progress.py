"""Progress while waiting: NOTICEs on state changes (queue position, time waited) and on rows
read during a long download, nothing from a statement that ends within a second, nothing with
dune_fdw.progress = off or client_min_messages = warning; dune_in_flight() shows the call to
other sessions (its role's only, unless pg_read_all_stats) and forgets it afterwards.

Env: see tests/harness.py."""

import os
import re
import sys
import threading
import time

import psycopg

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Tally, connect, reset  # noqa: E402


def notices_of(conn, statement, setup=()):
    got = []
    conn.add_notice_handler(lambda d: got.append(d.message_primary))
    for s in setup:
        conn.execute(s)
    try:
        conn.execute(statement).fetchall()
    except psycopg.Error as e:
        got.append(f"ERROR {e.diag.sqlstate}")
    return got


def session(**kw):
    c = connect(**kw)
    c.execute("SET dune_fdw.progress = on")  # the regress database turns it off
    return c


def main():
    t = Tally("ux progress")
    reset()
    admin = connect()
    admin.execute("DROP ROLE IF EXISTS dune_watcher")
    admin.execute("CREATE ROLE dune_watcher LOGIN")

    # a queued query (3 s in the queue, 1 s running), watched from another session meanwhile
    conn = session()
    seen, done = [], threading.Event()

    def watch():
        while not done.is_set():
            seen.append(admin.execute("SELECT pid, execution_id, query_id, state, queue_position FROM dune_in_flight()"
                                      ).fetchall())
            seen.append(("watcher", connect(user="dune_watcher").execute("SELECT count(*) FROM dune_in_flight()")
                         .fetchone()[0]))
            time.sleep(0.3)
    w = threading.Thread(target=watch)
    w.start()
    notes = notices_of(conn, "SELECT count(*) FROM dune_run(9000004)")
    done.set()
    w.join()
    print("  notices:", notes)
    queued = [n for n in notes if re.fullmatch(r"Dune execution 01\w{24} of query 9000004 is queued at position \d+ "
                                               r"\(\d+\.\d s\)", n)]
    t.check(len(queued) >= 1, "a NOTICE with the queue position and the time waited", str(notes))
    t.check(any(re.search(r"finished; reading its result \(\d+\.\d s\)", n) for n in notes),
            "a NOTICE when it finishes", str(notes))
    t.check(any(re.search(r"finished; reading its result \(\d+\.\d s\); it cost 10 credits$", n) for n in notes),
            "the NOTICE says what the execution cost (execution_cost_credits)", str(notes))
    t.check(all(re.search(r"\((\d+\.\d) s\)", n) and float(re.search(r"\((\d+\.\d) s\)", n)[1]) >= 1.0 for n in notes),
            "nothing said in the first second", str(notes))
    rows = [r for s in seen if isinstance(s, list) for r in s]
    t.check(any(r[0] == conn.info.backend_pid and r[2] == 9000004 and r[3] == "QUERY_STATE_PENDING"
                and r[4] is not None for r in rows), "dune_in_flight() shows the queued call to another session",
            str(rows[:3]))
    watched = [s[1] for s in seen if isinstance(s, tuple)]
    t.check(watched and all(n == 0 for n in watched), "another role does not see it", str(watched))
    t.check(admin.execute("SELECT count(*) FROM dune_in_flight()").fetchone()[0] == 0,
            "dune_in_flight() is empty once the call ended")
    print("  dune_in_flight() during the wait:", rows[:1])

    # quiet cases
    t.check(notices_of(session(), "SELECT count(*) FROM dune_latest(3493826)") == [],
            "a statement that ends within a second says nothing")
    t.check(notices_of(session(), "SELECT count(*) FROM dune_run(9000004)", ["SET dune_fdw.progress = off"]) == [],
            "dune_fdw.progress = off silences it")
    t.check(notices_of(session(), "SELECT count(*) FROM dune_run(9000004)", ["SET client_min_messages = warning"])
            == [], "client_min_messages = warning silences it")

    # a long download reports rows and pages
    admin.execute("""CREATE FOREIGN TABLE IF NOT EXISTS progress_big (c03_block bigint)
                     SERVER dune OPTIONS (query_id '9100002', mode 'execute', params '{"rows": "50000000"}')""")
    costs = []

    def watch_cost():
        time.sleep(4)
        costs.extend(admin.execute("SELECT state, execution_cost_credits FROM dune_in_flight()").fetchall())
    w = threading.Thread(target=watch_cost)
    w.start()
    notes = notices_of(session(), "SELECT count(*) FROM progress_big", ["SET statement_timeout = '8s'"])
    w.join()
    print("  notices:", notes)
    t.check(any(state == "QUERY_STATE_COMPLETED" and cost is not None and cost > 0 for state, cost in costs),
            "dune_in_flight() shows what the execution being read cost (execution_cost_credits)", str(costs))
    reads = [n for n in notes if re.fullmatch(r"read \d+ rows in \d+ pages from Dune \(\d+\.\d s\)", n)]
    t.check(len(reads) >= 1 and notes[-1] == "ERROR 57014", "a long download reports rows read every 5 s", str(notes))
    admin.execute("DROP FOREIGN TABLE progress_big")
    admin.execute("DROP ROLE dune_watcher")
    t.finish()


if __name__ == "__main__":
    main()
