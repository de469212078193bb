"""Transient faults and malformed answers, injected by the emulator at each phase of a query,
seen through SQL: a function (dune_run) and a foreign-table scan (mode execute). The result has
four pages; after the first, the others are read ahead (fetch_concurrency 4; every answer is
delayed 20 ms, as by a network, so the read opens its window: the second page alone, then the
third and fourth together), so the last page fault hits a page among several in flight.

Within the retry budget a query must return exactly the rows of a fault-free run, and an
execute that may have reached Dune is never sent twice; past the budget it must end with a
clear ERROR (SQLSTATE, message, HINT) and leave the backend usable. Malformed answers give a
clear result or error.

Env: see tests/harness.py."""

import copy
import json
import os
import sys
import time

import psycopg
from psycopg import sql

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import API_URL, Tally, connect, emulator, reset  # noqa: E402

ROWS = 3500  # four pages of 1000 rows
LATENCY_MS = 20
PARAMS = json.dumps({"rows": str(ROWS)})
SURFACES = {
    "dune_run": "SELECT count(*), md5(string_agg(r::text, '|' ORDER BY (r->>'block_number')::bigint)) "
                f"FROM dune_run(9100001, '{PARAMS}') r",
    "foreign scan": "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY block_number)) FROM faulty_trades t",
}
# phase: (emulator route, requests of that route to let through first)
PHASES = {
    "execute": ("execute", 0),
    "status": ("status", 0),
    "first page": ("results", 0),
    "middle page": ("results", 1),
    "last page": ("results", 3),
}
FAULTS = {
    "429": {"status": 429},
    "429 Retry-After 1": {"status": 429, "retry_after": "1"},
    "500": {"status": 500},
    "502": {"status": 502, "body": "<html>Bad Gateway</html>"},
    "503": {"status": 503},
    "504": {"status": 504},
    "connection refused": {"refuse_ms": 600},
    "reset mid-body": {"reset_after": 40},
    "cut mid-JSON": {"cut_after": 40},
    "stall past the request timeout": {"stall_ms": 1600},
}
# Faults after which Dune certainly did not start the query, so an execute may be sent again.
EXECUTE_RETRYABLE = {"429", "429 Retry-After 1", "connection refused"}


def setup(conn):
    conn.execute(sql.SQL("""
        CREATE SERVER IF NOT EXISTS faulty FOREIGN DATA WRAPPER dune_fdw
            OPTIONS (api_url {}, request_timeout_ms '1000', max_retries '2', max_retry_wait_ms '1500',
                     fetch_size '1000', fetch_concurrency '4', max_response_bytes '1048576')""").format(sql.Literal(API_URL)))
    conn.execute("CREATE USER MAPPING IF NOT EXISTS FOR CURRENT_USER SERVER faulty OPTIONS (api_key 'emulator-key')")
    conn.execute(sql.SQL("""
        CREATE FOREIGN TABLE IF NOT EXISTS faulty_trades (block_time timestamptz, project text, block_number bigint,
            amount_usd float8, tx_hash bytea, amount_raw numeric)
            SERVER faulty OPTIONS (query_id '9100001', mode 'execute', params {})""").format(sql.Literal(PARAMS)))
    conn.execute("""
        CREATE FOREIGN TABLE IF NOT EXISTS faulty_latest (ct bigint, "TableName" text)
            SERVER faulty OPTIONS (query_id '3493826')""")


def run(conn, query):
    """(rows, error) of a statement; error is (sqlstate, message, hint)."""
    try:
        return conn.execute(query).fetchone(), None
    except psycopg.Error as e:
        d = e.diag
        return None, (d.sqlstate, d.message_primary or "", d.message_hint or "", d.message_detail or "")


def healthy(conn):
    try:
        return conn.execute("SELECT 1").fetchone()[0] == 1
    except psycopg.Error:
        return False


def clear_error(err):
    return err is not None and err[0] and err[0][:2] in ("HV", "54", "22", "53") and err[1] and err[2]


def transient(t, conn, baseline, baseline_time):
    """Every fault at every phase, once (within the budget), then past the budget."""
    for surface, query in SURFACES.items():
        for phase, (route, skip) in PHASES.items():
            for fault, rule in FAULTS.items():
                name = f"{surface} / {phase} / {fault}"
                reset()
                refused_up_front = fault == "connection refused" and phase == "execute"
                if refused_up_front:
                    emulator(f"refuse?ms={rule['refuse_ms']}", "POST")  # before the first request
                else:
                    emulator("faults", "POST", [dict(rule, route=route, skip=skip, times=1)])
                start = time.monotonic()
                got, err = run(conn, query)
                took = time.monotonic() - start
                stats = emulator("stats?brief=1")
                executes = stats["requests"].get("execute", 0)
                if phase == "execute" and fault not in EXECUTE_RETRYABLE:
                    # may have reached Dune: not sent again, and the user is told so
                    t.check(clear_error(err) and "may have reached Dune" in err[3] and executes == 1, name,
                            f"error {err}, {executes} execute requests")
                else:
                    t.check(err is None and got == baseline[surface] and stats["executions_created"] == 1, name,
                            f"got {got}, error {err}, {stats['executions_created']} executions")
                    if refused_up_front:
                        # refused connections never reach the emulator's counters; but the
                        # execute waits for the listener to come back, then the query runs
                        happened = took >= baseline_time[surface] + rule["refuse_ms"] / 2000
                    else:
                        happened = stats["faults_injected"] >= 1
                    t.check(happened, f"{name}: the fault happened", f"{stats['faults_injected']} injected, {took:.2f} s")
                t.check(healthy(conn), f"{name}: backend usable afterwards")

    # Past the budget (three tries): a clear error and a usable backend.
    for surface, query in SURFACES.items():
        for fault, rule in FAULTS.items():
            name = f"{surface} / middle page / {fault} past the retry budget"
            reset()
            if fault == "connection refused":
                rule = dict(rule, refuse_ms=6000)
            emulator("faults", "POST", [dict(rule, route="results", skip=1, times=20)])
            start = time.monotonic()
            got, err = run(conn, query)
            t.check(clear_error(err), name, f"got {got}, error {err}")
            t.check(healthy(conn), f"{name}: backend usable afterwards")
            print(f"  {name}: {err[0] if err else '-'} after {time.monotonic() - start:.1f} s: "
                  f"{err[1] if err else got}", flush=True)


def latest_body():
    """A real latest-results answer for query 3493826 (8 rows), without paging links."""
    import urllib.request
    req = urllib.request.Request(f"{API_URL}/v1/query/3493826/results?limit=100",
                                 headers={"X-Dune-Api-Key": "emulator-key"})
    with urllib.request.urlopen(req) as r:
        body = json.loads(r.read())
    body.pop("next_offset", None)
    body.pop("next_uri", None)
    return body


def malformed(t, conn):
    """Answers that do not look like Dune's: each gives a clear result or error."""
    good = latest_body()

    def variant(f):
        b = copy.deepcopy(good)
        f(b)
        return json.dumps(b)

    def drop_optional(b):
        for k in ("expires_at", "execution_started_at", "execution_ended_at", "submitted_at"):
            b.pop(k, None)
        for k in ("pending_time_millis", "execution_time_millis", "result_set_bytes", "total_result_set_bytes",
                  "datapoint_count"):
            b["result"]["metadata"].pop(k, None)

    def disagree(b):
        b["result"]["rows"][0] = {"ct": 7, "unexpected": "x"}  # TableName missing, an unknown key
    big = variant(lambda b: b["result"]["rows"][0].update(TableName="x" * 600_000))
    huge = variant(lambda b: b["result"]["rows"][0].update(TableName="x" * 2_000_000))
    cases = [
        # (name, body, expected: "rows" = the 8 rows, or a SQLSTATE class)
        ("invalid JSON", '{"execution_id": "01HKZSJAW7M7ZZ2EXMY3B0S03H", "result": {"rows": [', "HV"),
        ("not an object", "[1, 2, 3]", "HV"),
        ("wrong type in a known field (rows is a string)", variant(lambda b: b["result"].update(rows="none")), "HV"),
        ("wrong type in a known field (state is a number)", variant(lambda b: b.update(state=3)), "HV"),
        ("missing optional fields", variant(drop_optional), "rows"),
        ("unknown state", variant(lambda b: b.update(state="QUERY_STATE_SOMETHING_NEW")), "HV"),
        ("row keys disagree with column_names", variant(disagree), "rows"),
        ("a 600 kB value", big, "rows"),
        ("a 2 MB value over max_response_bytes", huge, "54"),
    ]
    surfaces = {
        "dune_latest": "SELECT count(*), max(length(r->>'TableName')) FROM dune_latest(3493826) r",
        "foreign scan": "SELECT count(*), max(length(\"TableName\")) FROM faulty_latest",
    }
    conn.execute("SET dune_fdw.server = 'faulty'")
    for surface, query in surfaces.items():
        for name, body, expected in cases:
            what = f"{surface} / {name}"
            reset()
            emulator("faults", "POST", [{"route": "latest", "status": 200, "body": body, "times": 1}])
            got, err = run(conn, query)
            if expected == "rows":
                t.check(err is None and got[0] == 8, what, f"got {got}, error {err}")
            else:
                t.check(err is not None and err[0].startswith(expected) and err[1] and err[2], what,
                        f"got {got}, error {err}")
            print(f"  {what}: {('ERROR ' + err[0] + ': ' + err[1][:110]) if err else got}", flush=True)
            t.check(healthy(conn), f"{what}: backend usable afterwards")
    conn.execute("RESET dune_fdw.server")


def main():
    t = Tally("reliability faults")
    conn = connect()
    setup(conn)
    conn.execute("SET dune_fdw.server = 'faulty'")
    emulator("settings", "POST", {"latency_ms": LATENCY_MS})
    baseline, baseline_time = {}, {}
    for s, q in SURFACES.items():
        reset()
        start = time.monotonic()
        baseline[s] = run(conn, q)[0]
        baseline_time[s] = time.monotonic() - start
        stats = emulator("stats?brief=1")
        t.check(stats["most_in_flight"] >= 2 and stats["results_requests"] == 4,
                f"fault-free {s}: pages in flight together, each read once",
                f"{stats['most_in_flight']} in flight, {stats['results_requests']} results requests")
    t.check(all(b and b[0] == ROWS for b in baseline.values()), "fault-free baseline", str(baseline))
    try:
        transient(t, conn, baseline, baseline_time)
        malformed(t, conn)
    finally:
        emulator("settings", "POST", {"latency_ms": 0})
    reset()
    t.finish()


if __name__ == "__main__":
    main()
