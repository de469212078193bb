"""Pushdown never changes a result: a seeded generator of foreign-table declarations (local types
and typmods over every Dune type the emulator serves, column_name mappings, with and without
dune_type) and of queries (every pushed operator, constants at and around the values the
result holds, NULLs, IN lists, LIKE, parameters of prepared statements, ORDER BY, LIMIT and
OFFSET). Each query runs pushed and as the unpushed form `(SELECT * FROM t OFFSET 0) s`, which
PostgreSQL evaluates alone; the rows must be the same (the same sequence of ORDER BY keys
where there is an ORDER BY, the same count where LIMIT picks arbitrary rows), and the pushed
form may never make Dune serve more datapoints than the unpushed one.

A case whose unpushed form fails (a value the declared type cannot hold) is skipped; the pushed
form may then fail too. The run needs at least MIN_CASES compared cases.

Env: see tests/harness.py; PUSHDOWN_SEED picks the run (printed at the start and on failure; a
fixed seed by default so that CI is repeatable, `random` for a new one each run),
PUSHDOWN_CASES sets the number of cases to compare (2,200 by default), DIFF_WITHOUT_DUNE_TYPE=1
declares no dune_type (for versions without the option)."""

import os
import random
import sys

import psycopg

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import MARK, Tally, connect, emulator, with_constants  # noqa: E402

DEFAULT_SEED = 20261130
_seed = os.environ.get("PUSHDOWN_SEED") or str(DEFAULT_SEED)
SEED = random.SystemRandom().randrange(1, 2**31) if _seed == "random" else int(_seed)
CASES = int(os.environ.get("PUSHDOWN_CASES", "2200"))
MIN_CASES = 2000
SYNTH_ROWS = 3000

# Local types a user may declare over each Dune type (all read the values the emulator serves;
# those that cannot hold some value make the case fail unpushed, and it is skipped).
LOCAL = {
    "varchar": ["text", "varchar", "text", "numeric", "bigint"],
    "bigint": ["bigint", "numeric", "numeric(20,0)", "float8", "text", "integer"],
    "integer": ["integer", "bigint", "numeric", "float8"],
    "smallint": ["smallint", "integer", "numeric"],
    "tinyint": ["smallint", "bigint"],
    "double": ["float8", "numeric", "numeric(12,0)", "numeric(16,2)", "real", "text"],
    "real": ["real", "float8", "numeric"],
    "decimal(38, 0)": ["numeric", "numeric(38,0)", "float8", "numeric(40,2)"],
    "decimal(12, 7)": ["numeric", "numeric(12,7)", "numeric(12,2)", "float8", "numeric(14,0)"],
    "uint256": ["numeric", "numeric(78,0)", "float8", "text", "numeric(80,1)"],
    "int256": ["numeric", "float8"],
    "boolean": ["boolean", "text"],
    "varbinary": ["bytea", "text"],
    "date": ["date", "timestamp", "text"],
    "timestamp with time zone": ["timestamptz", "timestamptz(0)", "timestamptz(3)", "timestamp",
                                 "timestamp(0)", "date", "text"],
    "timestamp": ["timestamp", "timestamp(0)", "timestamptz", "date"],
}

# The sources: (query id, table options); their columns and Dune types come from the results.
SOURCES = [
    (1258228, ""),
    (9000001, ""),
    (9100001, f", params '{{\"rows\": \"{SYNTH_ROWS}\"}}'"),
]

tally = Tally("pushdown differential")
rng = random.Random(SEED)
print(f"pushdown differential: seed {SEED} (PUSHDOWN_SEED={SEED} replays this run)", flush=True)


def base(t):
    return t.split("(")[0]


def dune_columns(cur, query_id, opts):
    """(name, Dune type) of a query's latest result, from dune_latest_results' metadata."""
    params = "'{\"rows\": \"%d\"}'" % SYNTH_ROWS if query_id == 9100001 else "NULL"
    cur.execute(f"SELECT dune_wait(dune_execute({query_id}, {params}::jsonb)) -> 'result_metadata'")
    meta = cur.fetchone()[0]
    return [(n, t) for n, t in zip(meta["column_names"], meta["column_types"]) if t in LOCAL or base(t) in LOCAL]


def declare(cur, n, query_id, opts, columns):
    """A random foreign table over some of `columns`; its columns as (local name, type, dune)."""
    chosen = rng.sample(columns, k=rng.randint(1, min(5, len(columns))))
    cols, decl = [], []
    for i, (dune_name, dune_type) in enumerate(chosen):
        local_type = rng.choice(LOCAL.get(dune_type, LOCAL.get(base(dune_type), ["text"])))
        typed = rng.random() < 0.7 and not os.environ.get("DIFF_WITHOUT_DUNE_TYPE")
        options = [f"column_name '{dune_name}'"] + ([f"dune_type '{dune_type}'"] if typed else [])
        decl.append(f"c{i} {local_type} OPTIONS ({', '.join(options)})")
        cols.append((f"c{i}", local_type, dune_type if typed else None))
    name = f"diff_{n}"
    cur.execute(f"DROP FOREIGN TABLE IF EXISTS {name}")
    cur.execute(f"CREATE FOREIGN TABLE {name} ({', '.join(decl)}) SERVER dune "
                f"OPTIONS (query_id '{query_id}'{opts})")
    return name, cols


def local_values(cur, table, col):
    """The values a column holds locally, as text (None if they cannot be read)."""
    try:
        cur.execute(f"SELECT DISTINCT {col}::text FROM (SELECT * FROM {table} OFFSET 0) s LIMIT 40")
        return [r[0] for r in cur.fetchall() if r[0] is not None]
    except psycopg.Error:
        return None




def const(expr):
    """A constant of a predicate: inlined, or a parameter of a prepared statement."""
    return f"{MARK}{expr}{MARK}"


def shifted(value, local_type):
    """Constants at and around a value of the local type (SQL expressions)."""
    t = base(local_type)
    quoted = "'" + value.replace("'", "''") + "'"
    lit = quoted if t in ("text", "varchar") else f"{quoted}::{local_type}"
    out = [lit]
    if t in ("bigint", "integer", "smallint", "numeric", "float8", "real"):
        out += [f"({lit} + 1)::{local_type}", f"({lit} - 0.5)::{t}", f"({lit} + 0.49)::{t}"]
    elif t in ("timestamptz", "timestamp"):
        out += [f"({lit} + interval '1 day')", f"({lit} - interval '400 milliseconds')",
                f"date_trunc('day', {lit})"]
    elif t == "date":
        out += [f"({lit} + 1)", f"({lit} - 1)"]
    elif t in ("text", "varchar"):
        out += ["'" + (value + "x").replace("'", "''") + "'"]
    return out


def predicate(col, local_type, values):
    """One random predicate on a column."""
    t = base(local_type)
    kind = rng.random()
    if kind < 0.08 or not values:
        return f"{col} IS {'NOT ' if rng.random() < 0.5 else ''}NULL"
    value = rng.choice(values)
    consts = shifted(value, local_type)
    if t == "boolean":
        return rng.choice([col, f"{col} = {const(consts[0])}", f"{col} <> {const(consts[0])}"])
    if kind < 0.2:
        picks = rng.sample(values, k=min(len(values), rng.randint(1, 3)))
        items = [shifted(v, local_type)[0] for v in picks]
        if rng.random() < 0.2:
            items.append(f"NULL::{local_type}")
        return f"{col} IN ({', '.join(items)})"
    if kind < 0.3 and t in ("text", "varchar") and value:
        prefix = value[: rng.randint(0, max(1, len(value) // 2))].replace("'", "''")
        return f"{col} LIKE '{prefix}%'"
    op = rng.choice(["=", "<>", "<", "<=", ">", ">="] if t not in ("bytea",) else ["=", "<>"])
    return f"{col} {op} {const(rng.choice(consts))}"


def query_parts(cols, values):
    preds = []
    for _ in range(rng.choice([0, 1, 1, 2, 2, 3])):
        col, local_type, _ = rng.choice(cols)
        preds.append(predicate(col, local_type, values.get(col)))
    where = ""
    if preds:
        joiner = " OR " if rng.random() < 0.15 else " AND "
        where = " WHERE " + joiner.join(f"({p})" for p in preds)
    order = []
    for col, _, _ in rng.sample(cols, k=rng.choice([0, 0, 1, 1, 2]) if len(cols) > 1 else rng.choice([0, 1])):
        order.append(f"{col} {rng.choice(['', 'DESC', 'ASC NULLS LAST', 'DESC NULLS LAST', 'DESC NULLS FIRST'])}")
    limit = ""
    if rng.random() < 0.45:
        limit = f" LIMIT {rng.choice([1, 2, 3, 5, 10, 100])}"
        if rng.random() < 0.35:
            limit += f" OFFSET {rng.choice([1, 2, 5, 8])}"
    return where, order, limit


def datapoints():
    return emulator("stats?brief=1")["datapoints_served"]


def run(cur, sql, prepared):
    """The rows of a query, and the datapoints Dune served for it. Prepared: a generic plan,
    whose constants are parameters evaluated at scan time."""
    text, args = with_constants(sql, prepared)
    before = datapoints()
    if args:
        cur.execute(f"PREPARE diff_q AS {text}")
        try:
            cur.execute(f"EXECUTE diff_q({', '.join(args)})")
            rows = cur.fetchall()
        finally:
            cur.execute("DEALLOCATE diff_q")
    else:
        cur.execute(text)
        rows = cur.fetchall()
    return rows, datapoints() - before


def keys_of(rows, n_keys):
    return [tuple(map(repr, r[-n_keys:])) for r in rows] if n_keys else None


def compare(cur, table, cols, values, case):
    where, order, limit = query_parts(cols, values)
    order_sql = f" ORDER BY {', '.join(order)}" if order else ""
    keys = ", ".join(o.split()[0] for o in order)
    select = "*" + (f", {keys}" if keys else "")
    pushed_sql = f"SELECT {select} FROM {table}{where}{order_sql}{limit}"
    unpushed_sql = f"SELECT {select} FROM (SELECT * FROM {table} OFFSET 0) s{where}{order_sql}{limit}"
    prepared = rng.random() < 0.15
    if prepared:
        cur.execute("SET plan_cache_mode = force_generic_plan")
    try:
        try:
            expected, unpushed_dp = run(cur, unpushed_sql, prepared)
        except psycopg.Error:
            return None  # the values do not fit the declared types
        try:
            got, pushed_dp = run(cur, pushed_sql, prepared)
        except psycopg.Error as e:
            return f"pushed form failed ({str(e).strip()}) where the unpushed one did not"
    finally:
        if prepared:
            cur.execute("RESET plan_cache_mode")
    n_keys = len(order)
    if limit and not order:
        same = len(got) == len(expected)
    elif order:
        same = keys_of(got, n_keys) == keys_of(expected, n_keys) and (
            bool(limit) or sorted(map(repr, got)) == sorted(map(repr, expected)))
    else:
        same = sorted(map(repr, got)) == sorted(map(repr, expected))
    pushed_sql = with_constants(pushed_sql, False)[0] + (" (prepared, generic plan)" if prepared else "")
    if not same:
        return (f"rows differ: pushed {len(got)} rows, unpushed {len(expected)}\n  {pushed_sql}\n"
                f"  first pushed: {got[:3]}\n  first unpushed: {expected[:3]}")
    if pushed_dp > unpushed_dp:
        return f"pushed served {pushed_dp} datapoints, unpushed {unpushed_dp}\n  {pushed_sql}"
    return "ok"


def main():
    with connect() as conn, conn.cursor() as cur:
        cur.execute("SET dune_fdw.progress = off")
        cur.execute("SET client_min_messages = warning")
        sources = [(q, o, dune_columns(cur, q, o)) for q, o in SOURCES]
        tables = []
        for n in range(45):
            q, opts, columns = rng.choice(sources)
            name, cols = declare(cur, n, q, opts, columns)
            values = {c: local_values(cur, name, c) for c, _, _ in cols}
            tables.append((name, cols, values))
        compared = skipped = differences = 0
        for case in range(3 * CASES):
            if compared >= CASES:
                break
            name, cols, values = rng.choice(tables)
            outcome = compare(cur, name, cols, values, case)
            if outcome is None:
                skipped += 1
                continue
            compared += 1
            differences += outcome != "ok"
            tally.check(outcome == "ok", f"case {case} (seed {SEED})", outcome)
        print(f"pushdown differential: {compared} cases compared, {skipped} skipped "
              f"(a declared type that cannot hold a value), {differences} differences", flush=True)
        tally.check(compared >= MIN_CASES, f"at least {MIN_CASES} cases compared",
                    f"{compared} compared, {skipped} skipped")
        for n in range(45):
            cur.execute(f"DROP FOREIGN TABLE IF EXISTS diff_{n}")
    tally.finish()


main()
