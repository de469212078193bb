"""What a read costs in Dune credits, measured with the emulator's counters (datapoints served
are what Dune bills), over a 1,000,000-row result:

- a second SELECT of the same execution reads 0 datapoints; after dune_cache_clear() the same
  datapoints as the first;
- a join of a 20-row local table with the 1,000,000-row result on an equality reads at most the
  matching rows' cells (the planner picks a nested loop whose foreign scan is filtered by the
  outer key), and so does `= ANY(ARRAY(SELECT ...))`;
- ANALYZE reads at most its sample (sample_count), in one request;
- with the size known, the plan of a join with a local table has the shape the planner picks for
  the same rows held locally (an index on the key standing for Dune's filter);
- the cache never changes a result: a seeded generator of reads (columns, filters, ORDER BY,
  LIMIT, OFFSET, cache cleared now and then) compares a server with the cache and one without,
  row for row.

Env: see tests/harness.py; CREDITS_SEED replays a run of the generator (fixed by default),
CREDITS_CASES sets its number of reads (300)."""

import os
import random
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import API_URL, Tally, connect, emulator, reset  # noqa: E402

ROWS = 1_000_000
SEED = int(os.environ.get("CREDITS_SEED", "20261201"))
CASES = int(os.environ.get("CREDITS_CASES", "300"))
COLUMNS = {"block_time": "timestamptz", "project": "text", "block_number": "bigint", "amount_usd": "float8"}
DUNE_TYPES = {"block_time": "timestamp with time zone", "project": "varchar", "block_number": "bigint",
              "amount_usd": "double"}


def stats():
    return emulator("stats?brief=1")


def columns_ddl():
    return ", ".join(f"{c} {t} OPTIONS (dune_type '{DUNE_TYPES[c]}')" for c, t in COLUMNS.items())


def setup(db):
    for server, cache in (("credits_cached", "on"), ("credits_plain", "off")):
        db.execute(f"DROP SERVER IF EXISTS {server} CASCADE")
        db.execute(f"CREATE SERVER {server} FOREIGN DATA WRAPPER dune_fdw OPTIONS (api_url '{API_URL}', cache '{cache}')")
        db.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER {server} OPTIONS (api_key 'emulator-key')")
    db.execute("SET dune_fdw.server = 'credits_cached'")
    db.execute("SELECT dune_cache_clear()")
    params = '{"rows": "%d"}' % ROWS
    db.execute(f"""CREATE FOREIGN TABLE credits_latest ({columns_ddl()})
                   SERVER credits_cached OPTIONS (query_id '9100001', params '{params}')""")
    execution = db.execute(f"SELECT dune_execute(9100001, '{params}')").fetchone()[0]
    db.execute("SELECT dune_wait(%s)", (execution,))
    db.execute(f"""CREATE FOREIGN TABLE credits_exec ({columns_ddl()})
                   SERVER credits_cached OPTIONS (execution_id '{execution}')""")
    return execution


def same_execution_twice(t, db):
    q = "SELECT count(*), sum(block_number) FROM credits_exec"
    reset()
    first = db.execute(q).fetchone()
    d1 = stats()["datapoints_served"]
    reset()
    second = db.execute(q).fetchone()
    s2 = stats()
    t.check(first == second and first[0] == ROWS, "the second read returns the same rows", f"{first} / {second}")
    t.check(s2["datapoints_served"] == 0 and s2["total_requests"] == 0,
            "a second SELECT of the same execution: 0 datapoints, no request",
            f"first {d1} datapoints; second {s2['datapoints_served']} in {s2['total_requests']} requests")
    reset()
    narrower = db.execute("SELECT block_number FROM credits_exec WHERE block_number < 18000010 ORDER BY 1 LIMIT 3").fetchall()
    t.check(stats()["datapoints_served"] == 0 and len(narrower) == 3,
            "a narrower read (a filter, a limit) of the same execution: 0 datapoints", str(narrower))
    db.execute("SELECT dune_cache_clear()")
    reset()
    third = db.execute(q).fetchone()
    d3 = stats()["datapoints_served"]
    t.check(third == first and d3 == d1, "after dune_cache_clear(): the same datapoints as the first read",
            f"{d1} then {d3}")
    print(f"  same execution: {d1} datapoints, then 0, then {d3} after dune_cache_clear()")


def plan_shape(db, sql):
    """The plan's node types, scans named by relation, with Dune's scan and local scans alike
    called "Scan", and the nodes that only cache or sort rows left out."""
    lines = [r[0] for r in db.execute("EXPLAIN (COSTS OFF) " + sql).fetchall()]
    shape = []
    for line in lines:
        m = re.match(r"\s*(?:->\s*)?([A-Z][A-Za-z ]+?)(?: on (\w+)(?: \w+)?| using \w+ on (\w+)(?: \w+)?)?\s*$", line)
        if not m:
            continue
        node = m.group(1)
        rel = m.group(2) or m.group(3)
        if node in ("Memoize", "Materialize", "Bitmap Index Scan", "Hash", "Sort", "Aggregate", "Result"):
            continue
        if "Scan" in node:
            node = "Scan"
        shape.append(f"{node} {rel.replace('credits_latest', 'T').replace('credits_local', 'T')}" if rel else node)
    return shape


def join_with_keys(t, db):
    db.execute("SELECT dune_cache_clear()")
    db.execute("DROP TABLE IF EXISTS credits_keys")
    db.execute("CREATE TABLE credits_keys (block_number bigint PRIMARY KEY, label text)")
    db.execute("INSERT INTO credits_keys SELECT 18000000 + g * 49999, 'k' || g FROM generate_series(1, 20) g")
    db.execute("ANALYZE credits_keys")
    reset()
    db.execute("ANALYZE credits_latest")
    s = stats()
    t.check(s["results_requests"] == 1 and s["rows_served"] <= 30000 and s["datapoints_served"] <= 30000 * len(COLUMNS),
            "ANALYZE of a 1,000,000-row table reads at most its sample, in one request",
            f"{s['results_requests']} requests, {s['rows_served']} rows, {s['datapoints_served']} datapoints")
    tuples = db.execute("SELECT reltuples FROM pg_class WHERE relname = 'credits_latest'").fetchone()[0]
    t.check(tuples == ROWS, "ANALYZE records the result's row count", str(tuples))
    print(f"  ANALYZE: {s['rows_served']} rows, {s['datapoints_served']} datapoints in {s['results_requests']} request")
    q = "SELECT k.label, s.project, s.amount_usd FROM credits_keys k JOIN credits_latest s USING (block_number)"
    plan = "\n".join(r[0] for r in db.execute("EXPLAIN (COSTS OFF) " + q).fetchall())
    t.check("Nested Loop" in plan and "Foreign Scan on credits_latest" in plan,
            "the planner joins 20 local keys by a nested loop over a filtered foreign scan", plan)
    reset()
    rows = db.execute(q).fetchall()
    s = stats()
    cells = len(rows) * 3  # block_number, project, amount_usd
    t.check(len(rows) == 20 and s["datapoints_served"] <= cells,
            "a join of a 20-row local table with a 1,000,000-row result: datapoints <= the matching rows' cells",
            f"{len(rows)} rows, {s['datapoints_served']} datapoints (cells {cells}), {s['results_requests']} requests")
    print(f"  join of 20 keys: {s['datapoints_served']} datapoints in {s['results_requests']} requests")
    reset()
    n = db.execute("SELECT count(*) FROM credits_latest WHERE block_number = ANY(ARRAY(SELECT block_number FROM credits_keys))").fetchone()[0]
    s = stats()
    # one request for the rows, and one of one datapoint that checks which execution is the
    # latest (the cache holds reads of it)
    t.check(n == 20 and s["datapoints_served"] <= 20 + 1 and s["results_requests"] <= 2,
            "= ANY(ARRAY(SELECT ...)) reads the matching rows only, in one request (and the latest check)",
            f"{n} rows, {s['datapoints_served']} datapoints, {s['results_requests']} requests")


def plans_match_local(t, db):
    db.execute("DROP TABLE IF EXISTS credits_local")
    db.execute("CREATE TABLE credits_local AS SELECT * FROM credits_latest")
    db.execute("CREATE INDEX ON credits_local (block_number)")
    db.execute("ANALYZE credits_local")
    # compared without the cache (which makes reading the whole result free, a plan of its
    # own) and without parallel workers (a question of CPUs, not of sizes)
    db.execute("SELECT dune_cache_clear()")
    db.execute("SET max_parallel_workers_per_gather = 0")
    db.execute("DROP TABLE IF EXISTS credits_many")
    db.execute("CREATE TABLE credits_many AS SELECT 18000000 + g * 7 AS block_number, 'm' || g AS label FROM generate_series(1, 100000) g")
    db.execute("ANALYZE credits_many")
    for outer, what in (("credits_keys", "20 local keys"), ("credits_many", "100,000 local keys")):
        shapes = {}
        for table in ("credits_latest", "credits_local"):
            shapes[table] = plan_shape(db, f"SELECT o.label, s.project FROM {outer} o JOIN {table} s USING (block_number)")
        t.check(shapes["credits_latest"] == shapes["credits_local"],
                f"with sizes known, a join with {what} is planned as for the same rows held locally",
                f"foreign {shapes['credits_latest']} / local {shapes['credits_local']}")
        print(f"  {what}: {' > '.join(shapes['credits_latest'])}")
    # a grouped query over the whole result: the same shape too
    shapes = [plan_shape(db, f"SELECT project, count(*) FROM {table} WHERE amount_usd > 100 GROUP BY 1")
              for table in ("credits_latest", "credits_local")]
    t.check(shapes[0] == shapes[1], "a grouped scan is planned as for the same rows held locally", str(shapes))
    db.execute("RESET max_parallel_workers_per_gather")


# Reads drawn from small pools, so that the same columns, filters and order come back with
# other limits and offsets: what the cache may answer from an earlier read (the same request,
# fewer columns, more rows skipped) is then exercised, not only first reads.
COLUMN_SETS = [["project"], ["project", "amount_usd"], list(COLUMNS)]
FILTERS = ["", "block_number < 18001500", "project = 'curve'", "block_number IN (18000007, 18000008, 18002999)",
           "amount_usd BETWEEN 10 AND 5000", "project = 'nope'"]
ORDERS = ["", " ORDER BY block_number", " ORDER BY block_number DESC NULLS LAST"]


def random_read(rng, table):
    cols = rng.choice(COLUMN_SETS)
    where = rng.choice(FILTERS)
    order = rng.choice(ORDERS)
    limit = rng.choice(["", "", f" LIMIT {rng.randint(0, 40)}",
                        f" LIMIT {rng.randint(1, 20)} OFFSET {rng.randint(0, 60)}"])
    if limit and not order:
        order = " ORDER BY block_number"  # a LIMIT picks arbitrary rows otherwise
    sql = f"SELECT {', '.join(cols)}, block_number FROM {table}"
    if where:
        sql += " WHERE " + where
    return sql + order + limit


def cache_never_changes_a_result(t, db):
    rng = random.Random(SEED)
    params = '{"rows": "3000"}'
    db.execute(f"SELECT count(*) FROM dune_run(9100001, '{params}')")
    for server in ("credits_cached", "credits_plain"):
        db.execute(f"""CREATE FOREIGN TABLE gen_{server} ({columns_ddl()})
                       SERVER {server} OPTIONS (query_id '9100001', params '{params}')""")
    db.execute("SELECT dune_cache_clear()")
    differences, dearer, served = 0, 0, {"credits_cached": 0, "credits_plain": 0}
    for case in range(CASES):
        if rng.random() < 0.08:
            db.execute("SELECT dune_cache_clear()")
        sql = random_read(rng, "{table}")
        results, cost = {}, {}
        for server in ("credits_cached", "credits_plain"):
            reset()
            results[server] = db.execute(sql.format(table=f"gen_{server}")).fetchall()
            cost[server] = stats()["datapoints_served"]
            served[server] += cost[server]
        # at most the one datapoint that checks which execution is the latest
        if cost["credits_cached"] > cost["credits_plain"] + 1:
            dearer += 1
            print(f"FAIL case {case} (seed {SEED}) cost {cost}: {sql.format(table='t')}", flush=True)
        if "ORDER BY" not in sql:  # any order is right: compare the rows as multisets
            results = {k: sorted(v, key=repr) for k, v in results.items()}
        if results["credits_cached"] != results["credits_plain"]:
            differences += 1
            print(f"FAIL case {case} (seed {SEED}): {sql.format(table='t')}", flush=True)
    t.check(differences == 0, f"the cache never changes a result ({CASES} generated reads, seed {SEED})",
            f"{differences} differences")
    t.check(dearer == 0, "no read costs more with the cache than without (but the latest check)",
            f"{dearer} reads cost more")
    t.check(served["credits_cached"] < served["credits_plain"],
            "the generated reads cost fewer datapoints with the cache",
            f"{served['credits_cached']} with, {served['credits_plain']} without")
    print(f"  generator: {CASES} reads, {served['credits_cached']} datapoints with the cache, {served['credits_plain']} without")


def main():
    t = Tally("credits figures")
    db = connect()
    execution = setup(db)
    print(f"  execution {execution} of {ROWS} rows")
    same_execution_twice(t, db)
    join_with_keys(t, db)
    plans_match_local(t, db)
    cache_never_changes_a_result(t, db)
    db.execute("DROP TABLE IF EXISTS credits_keys, credits_many, credits_local")
    for server in ("credits_cached", "credits_plain"):
        db.execute(f"DROP SERVER IF EXISTS {server} CASCADE")
    t.finish()


if __name__ == "__main__":
    main()
