"""Nothing lost or doubled when writing to Dune: faults injected by the emulator at every batch
of an INSERT ... SELECT and of a COPY FROM into a foreign table with dune_table (API reference
§9: an insert request is written all or none).

The rule checked, for every fault at the first, a middle and the last batch:
- the statement succeeds and the Dune table holds exactly the rows inserted, once each, in order;
- or it fails with an ERROR whose DETAIL says how many rows were written before (W) and which
  batch failed (rows a to b); the table then holds exactly rows 1..W, or, when the DETAIL says
  the batch "may have been written" (its outcome is unknown, so it was not resent), rows 1..W or
  rows 1..b; never a row twice, never a row out of order, never a hole.
Faults after which Dune certainly did not write (429, a connection refused before sending) are
retried and the statement succeeds; 429s past the retries end it with the batch not written. A
5xx answer leaves the outcome unknown (a gateway may answer 502/504 after the write), as do a
cut, a reset or a stall after the request was served: not retried (an insert is not idempotent),
and the DETAIL says the batch may have been written. The emulator, which knows, must then hold
the batch (it served the request) or not (it answered 5xx instead of serving).

Env: see tests/harness.py."""

import os
import re
import sys
import time

import psycopg
from psycopg import sql

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import API_URL, Tally, connect, emulator, reset  # noqa: E402

NAMESPACE = "dune_fdw_emulator"
TABLE = "insert_faults"
ROWS = 600
BATCH_BYTES = 4096
FAULTS = {
    "429": {"status": 429},
    "429 Retry-After 1": {"status": 429, "retry_after": "1"},
    "429 past the retries": {"status": 429, "times": 10},
    "500": {"status": 500},
    "502": {"status": 502, "body": "<html>Bad Gateway</html>"},
    "503": {"status": 503},
    "504": {"status": 504},
    "reset after serving": {"reset": True},
    "reset mid-body": {"reset_after": 10},
    "cut mid-JSON": {"cut_after": 10},
    "stall past the request timeout": {"stall_ms": 1600},
    "served, then connections refused": {"refuse_ms": 600},
}
# Dune certainly did not write: retried, and the statement succeeds.
RETRIED = {"429", "429 Retry-After 1"}
# Dune refused the batch: nothing of it written, and the error says so.
NOT_WRITTEN = {"429 past the retries"}
# The emulator answered instead of serving: nothing written, though the client cannot know.
NOT_SERVED = {"500", "502", "503", "504"}
SURFACES = ("INSERT ... SELECT", "COPY FROM STDIN")


def setup(conn):
    conn.execute("DROP SERVER IF EXISTS wfaulty CASCADE")
    conn.execute("DROP TABLE IF EXISTS insert_source")
    conn.execute(sql.SQL("""
        CREATE SERVER wfaulty FOREIGN DATA WRAPPER dune_fdw
            OPTIONS (api_url {}, request_timeout_ms '1000', max_retries '3', max_retry_wait_ms '1500',
                     cache 'off')""").format(sql.Literal(API_URL)))
    conn.execute("CREATE USER MAPPING FOR CURRENT_USER SERVER wfaulty OPTIONS (api_key 'emulator-key')")
    conn.execute("SET dune_fdw.server = 'wfaulty'")
    conn.execute("SET client_min_messages = error")
    try:
        conn.execute("SELECT dune_drop_table(%s, %s)", (NAMESPACE, TABLE))
    except psycopg.Error:
        pass
    conn.execute("""SELECT dune_create_table(%s, %s,
        '[{"name": "id", "type": "bigint", "nullable": false}, {"name": "label", "type": "varchar"}]'::jsonb)""",
                 (NAMESPACE, TABLE))
    conn.execute(sql.SQL("""
        CREATE FOREIGN TABLE faulty_uploads (id bigint, label text)
            SERVER wfaulty OPTIONS (dune_table {}, insert_batch_bytes {})""").format(
        sql.Literal(f"{NAMESPACE}.{TABLE}"), sql.Literal(str(BATCH_BYTES))))
    conn.execute(f"""CREATE TABLE insert_source AS
        SELECT i::bigint AS id, 'row ' || i || ' ' || md5(i::text) AS label FROM generate_series(1, {ROWS}) i""")


def held_ids():
    """The ids the emulator's table holds, in the order they were written."""
    ids, offset = [], 0
    while True:
        page = emulator(f"uploads/{NAMESPACE}/{TABLE}?limit=1000&offset={offset}")
        rows = page["rows"]
        ids.extend(int(r[0]) for r in rows)
        offset += len(rows)
        if not rows or offset >= page["row_count"]:
            return ids


def insert(conn, surface):
    """None, or the error's (sqlstate, message, detail)."""
    try:
        if surface == "COPY FROM STDIN":
            rows = conn.execute("SELECT id, label FROM insert_source ORDER BY id").fetchall()
            with conn.cursor().copy("COPY faulty_uploads (id, label) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            conn.execute("INSERT INTO faulty_uploads SELECT id, label FROM insert_source ORDER BY id")
        return None
    except psycopg.Error as e:
        d = e.diag
        return d.sqlstate, d.message_primary or "", d.message_detail or ""


def clear(conn):
    conn.execute("SELECT dune_clear_table(%s, %s)", (NAMESPACE, TABLE))


def check_case(t, name, fault, err, ids):
    """The rule of the module's docstring for one statement."""
    expected_all = list(range(1, ROWS + 1))
    t.check(len(ids) == len(set(ids)), f"{name}: no row written twice", f"{len(ids) - len(set(ids))} duplicates")
    if err is None:
        t.check(fault in RETRIED, f"{name}: only a fault Dune did not act on is retried", "the statement succeeded")
        t.check(ids == expected_all, f"{name}: every row written once, in order", f"{len(ids)} rows")
        return
    t.check(fault not in RETRIED, f"{name}: a fault Dune did not act on is retried", str(err))
    m = re.search(r"(\d+) rows of this statement were written to Dune before it\. Rows? (\d+)(?: to (\d+))?", err[2])
    if not t.check(m is not None, f"{name}: the DETAIL says how many rows were written", str(err)):
        return
    written, first = int(m.group(1)), int(m.group(2))
    last = int(m.group(3) or first)
    maybe = "may have been written" in err[2]
    t.check(first == written + 1, f"{name}: the failed batch follows the written rows", f"{written} / {first}")
    t.check(maybe == (fault not in NOT_WRITTEN), f"{name}: the DETAIL tells an unknown outcome from a refusal",
            err[2])
    allowed = [expected_all[:written]] + ([expected_all[:last]] if maybe else [])
    t.check(ids in allowed, f"{name}: the table holds exactly the rows the error accounts for",
            f"{len(ids)} rows held; {written} written, batch {first}..{last}, maybe={maybe}")
    truth = expected_all[:written] if fault in NOT_WRITTEN | NOT_SERVED else expected_all[:last]
    t.check(ids == truth, f"{name}: the table holds what the emulator did", f"{len(ids)} rows held")


def main():
    t = Tally("reliability insert faults")
    conn = connect()
    setup(conn)
    reset()
    clear(conn)
    t.check(insert(conn, "INSERT ... SELECT") is None, "a fault-free insert succeeds")
    batches = emulator("stats?brief=1")["requests"].get("uploads_insert", 0)
    t.check(held_ids() == list(range(1, ROWS + 1)), "a fault-free insert writes every row once, in order")
    t.check(batches >= 4, "the rows go in several batches", str(batches))
    phases = {"first batch": 0, "middle batch": batches // 2, "last batch": batches - 1}
    for surface in SURFACES:
        for phase, skip in phases.items():
            for fault, rule in FAULTS.items():
                name = f"{surface} / {phase} / {fault}"
                clear(conn)
                reset()
                emulator("faults", "POST", [dict({"times": 1}, **rule, route="uploads_insert", skip=skip)])
                err = insert(conn, surface)
                time.sleep(0.05)
                check_case(t, name, fault, err, held_ids())
                t.check(conn.execute("SELECT 1").fetchone()[0] == 1, f"{name}: the session is usable after")
    # another error stops the statement while a batch is in flight (statement_timeout during a
    # stalled answer): after the ERROR, a WARNING says what was written and what may be
    clear(conn)
    reset()
    emulator("faults", "POST", [{"route": "uploads_insert", "skip": phases["middle batch"], "stall_ms": 2500}])
    warnings = []
    conn.add_notice_handler(lambda d: warnings.append(d.message_primary or ""))
    conn.execute("SET statement_timeout = '1s'")
    conn.execute("SET client_min_messages = warning")
    err = insert(conn, "INSERT ... SELECT")
    conn.execute("RESET statement_timeout")
    conn.execute("SET client_min_messages = error")
    time.sleep(2)  # the stalled request ends on the emulator's side
    t.check(err is not None and err[0] == "57014", "statement_timeout stops an insert waiting for Dune", str(err))
    m = next((re.search(r"stopped after (\d+) rows were written to Dune; rows (\d+) to (\d+) were being sent", w)
              for w in warnings if "stopped after" in w), None)
    t.check(m is not None, "a WARNING says what an interrupted insert wrote", str(warnings))
    if m:
        written, first, last = (int(g) for g in m.groups())
        ids = held_ids()
        t.check(first == written + 1 and ids in ([*range(1, written + 1)], [*range(1, last + 1)]),
                "the table holds what the WARNING accounts for", f"{len(ids)} rows; {m.group(0)}")

    # a connection refused before anything was sent: retried, and every row written once
    clear(conn)
    reset()
    emulator("refuse?ms=600", "POST")
    err = insert(conn, "INSERT ... SELECT")
    check_case(t, "connection refused before sending", "429", err, held_ids())
    conn.execute("SELECT dune_drop_table(%s, %s)", (NAMESPACE, TABLE))
    conn.execute("DROP SERVER wfaulty CASCADE")
    conn.execute("DROP TABLE insert_source")
    t.finish()


if __name__ == "__main__":
    main()
