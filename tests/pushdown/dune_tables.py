"""Dune's tables read through DuneSQL never give other rows than PostgreSQL computes itself.

`dex.trades` and `tokens.erc20` are imported (IMPORT FOREIGN SCHEMA from Dune's catalog) and
copied once, unfiltered, into local tables. A seeded generator then writes queries over them:
filters on every column type (comparisons at and around the values held, IN lists, LIKE, IS
NULL, OR, constants from expressions such as now() - interval, prepared statements with generic
plans), projections, ORDER BY in both directions with NULLS FIRST/LAST, LIMIT and OFFSET,
GROUP BY with count, sum, min, max and avg, a join of the two Dune tables, and joins with a
local table. Each query runs over the foreign tables (what can be pushed is written into the
DuneSQL the emulator runs) and over the local copies; the rows must be the same: the same
multiset, the same sequence where ORDER BY decides it, doubles compared to 12 significant
digits (a sum of doubles depends on the order it is added in, on Dune as in PostgreSQL).

Env: see tests/harness.py; DUNE_TABLES_SEED picks the run (printed; `random` for a new one),
DUNE_TABLES_CASES the number of queries (600 by default, at least 500)."""

import decimal
import os
import random
import sys

import psycopg

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import MARK, Tally, connect, emulator, with_constants  # noqa: E402

_seed = os.environ.get("DUNE_TABLES_SEED") or "20261130"
SEED = random.SystemRandom().randrange(1, 2**31) if _seed == "random" else int(_seed)
CASES = int(os.environ.get("DUNE_TABLES_CASES", "600"))
MIN_CASES = 500

tally = Tally("dune tables differential")
rng = random.Random(SEED)
print(f"dune tables differential: seed {SEED} (DUNE_TABLES_SEED={SEED} replays this run)", flush=True)

# (column, kind) of the imported tables; kinds decide the predicates written.
TRADES = [("blockchain", "text"), ("project", "text"), ("version", "text"), ("block_date", "date"),
          ("block_time", "timestamptz"), ("block_number", "bigint"), ("token_bought_symbol", "text"),
          ("token_sold_symbol", "text"), ("token_bought_amount", "float8"),
          ("token_bought_amount_raw", "numeric"), ("amount_usd", "float8"), ("taker", "bytea"),
          ("tx_hash", "bytea"), ("evt_index", "bigint"), ("token_bought_address", "bytea")]
ERC20 = [("blockchain", "text"), ("contract_address", "bytea"), ("symbol", "text"), ("decimals", "bigint")]
NUMERIC = ("bigint", "float8", "numeric")


def const(expr):
    return f"{MARK}{expr}{MARK}"


def values_of(cur, table, col):
    cur.execute(f"SELECT DISTINCT {col}::text FROM {table} WHERE {col} IS NOT NULL LIMIT 60")
    return [r[0] for r in cur.fetchall()]


def literal(value, kind):
    quoted = "'" + value.replace("'", "''") + "'"
    return quoted if kind == "text" else f"{quoted}::{kind}"


def around(value, kind):
    lit = literal(value, kind)
    out = [lit]
    if kind in NUMERIC:
        out += [f"({lit} + 1)", f"({lit} - 0.5)"]
    elif kind == "timestamptz":
        out += [f"({lit} + interval '1 hour')", f"date_trunc('day', {lit})"]
    elif kind == "date":
        out += [f"({lit} + 1)"]
    elif kind == "text":
        out += ["'" + (value + "z").replace("'", "''") + "'", literal(value.upper(), kind)]
    return out


def predicate(alias, cols, values):
    col, kind = rng.choice(cols)
    ref = f"{alias}.{col}"
    vals = values[col]
    r = rng.random()
    if r < 0.07 or not vals:
        return f"{ref} IS {'NOT ' if rng.random() < 0.5 else ''}NULL"
    v = rng.choice(vals)
    if r < 0.2:
        picks = [literal(x, kind) for x in rng.sample(vals, k=min(len(vals), rng.randint(1, 4)))]
        return f"{ref} IN ({', '.join(picks)})"
    if r < 0.27 and kind == "text":
        return f"{ref} LIKE '{v[: rng.randint(1, 3)].replace(chr(39), chr(39) * 2)}%'"
    if r < 0.25 and kind in ("timestamptz", "date", "numeric"):
        # an infinite bound (prepared: a parameter Dune cannot hold, rewritten by its meaning)
        inf = rng.choice(["'infinity'", "'-infinity'"] + (["'NaN'"] if kind == "numeric" else []))
        return f"{ref} {rng.choice(['<', '<=', '>', '>=', '=', '<>'])} {const(inf + '::' + kind)}"
    if r < 0.32 and kind == "timestamptz":
        return f"{ref} > {const('now() - interval ' + repr(str(rng.randint(250, 1200)) + ' days'))}"
    ops = ["=", "<>"] if kind == "bytea" else ["=", "<>", "<", "<=", ">", ">="]
    return f"{ref} {rng.choice(ops)} {const(rng.choice(around(v, kind)))}"


def where_of(parts):
    if not parts:
        return ""
    joiner = " OR " if rng.random() < 0.15 else " AND "
    return " WHERE " + joiner.join(f"({p})" for p in parts)


def order_limit(outputs):
    """ORDER BY (over outputs, by position) and LIMIT/OFFSET; an ORDER BY of every output
    whenever there is a LIMIT, so that the rows kept are decided."""
    limit = rng.random() < 0.4
    keys = list(range(1, len(outputs) + 1))
    rng.shuffle(keys)
    if not limit:
        keys = keys[: rng.choice([0, 0, 1, 2])]
    dirs = ["", " DESC", " ASC NULLS FIRST", " DESC NULLS LAST", " DESC NULLS FIRST"]
    order = ", ".join(f"{k}{rng.choice(dirs)}" for k in keys)
    sql = f" ORDER BY {order}" if keys else ""
    if limit:
        sql += f" LIMIT {rng.choice([1, 3, 10, 50])}"
        if rng.random() < 0.3:
            sql += f" OFFSET {rng.choice([1, 4, 9])}"
    return sql, keys


def top_query(tables, values):
    """ORDER BY a key of dex.trades (block_number and evt_index are unique together) in any
    direction, LIMIT and OFFSET: Dune picks the rows (column orders it keeps exactly)."""
    key = ["t.block_number", "t.evt_index", "t.amount_usd"]
    extra = [f"t.{c}" for c, _ in rng.sample(TRADES, k=rng.randint(0, 2))]
    outputs = key + [e for e in extra if e not in key]
    preds = [predicate("t", TRADES, values["trades"]) for _ in range(rng.choice([0, 1, 2]))]
    dirs = ["", " DESC", " DESC NULLS LAST", " NULLS FIRST"]
    positions = rng.choice([[1, 2], [1, 2, 3]])
    rng.shuffle(positions)
    order = ", ".join(f"{p}{rng.choice(dirs)}" for p in positions)
    tail = f" ORDER BY {order} LIMIT {rng.choice([1, 5, 20])}"
    if rng.random() < 0.4:
        tail += f" OFFSET {rng.choice([1, 3, 10])}"
    return f"SELECT {', '.join(outputs)} FROM {{trades}} t{where_of(preds)}{tail}", [1, 2, 3]


def scan_query(tables, values):
    name = rng.choice(["trades", "erc20"])
    cols = TRADES if name == "trades" else ERC20
    outputs = [c for c, _ in rng.sample(cols, k=rng.randint(1, min(4, len(cols))))]
    preds = [predicate("t", cols, values[name]) for _ in range(rng.choice([0, 1, 1, 2, 3]))]
    tail, keys = order_limit(outputs)
    sql = f"SELECT {', '.join('t.' + o for o in outputs)} FROM {{{name}}} t{where_of(preds)}{tail}"
    return sql, keys


def aggregate(alias, cols):
    col, kind = rng.choice(cols)
    # an expression over aggregates: the aggregates on Dune, the expression here
    if rng.random() < 0.15:
        if kind in ("bigint", "numeric", "timestamptz", "date"):
            return f"(max({alias}.{col}) - min({alias}.{col}))"
        return "(count(*) + 1)"
    ordered = [] if kind == "bytea" else ["min", "max"]
    f = rng.choice(["count", "count"] + ordered + (["sum", "avg"] if kind in NUMERIC else []))
    if f == "count" and rng.random() < 0.4:
        return "count(*)"
    distinct = "DISTINCT " if f == "count" and rng.random() < 0.2 else ""
    return f"{f}({distinct}{alias}.{col})"


def group_query(tables, values):
    name = rng.choice(["trades", "trades", "erc20"])
    cols = TRADES if name == "trades" else ERC20
    groupable = [c for c, k in cols if k in ("text", "date", "bigint", "bytea")]
    groups = rng.sample(groupable, k=rng.choice([0, 1, 1, 2]))
    aggs = [aggregate("t", cols) for _ in range(rng.randint(1, 3))]
    outputs = [f"t.{g}" for g in groups] + aggs
    preds = [predicate("t", cols, values[name]) for _ in range(rng.choice([0, 1, 2]))]
    group_sql = f" GROUP BY {', '.join(f't.{g}' for g in groups)}" if groups else ""
    having = f" HAVING count(*) > {rng.choice([1, 5, 20])}" if groups and rng.random() < 0.2 else ""
    tail, keys = order_limit(outputs)
    return f"SELECT {', '.join(outputs)} FROM {{{name}}} t{where_of(preds)}{group_sql}{having}{tail}", keys


def join_query(tables, values):
    kind = rng.choice(["JOIN", "JOIN", "LEFT JOIN"])
    on = "e.contract_address = t.token_bought_address"
    if rng.random() < 0.5:
        on += " AND e.blockchain = t.blockchain"
    preds = [predicate("t", TRADES, values["trades"]) for _ in range(rng.choice([1, 1, 2]))]
    if rng.random() < 0.4:
        preds.append(predicate("e", ERC20, values["erc20"]))
    if rng.random() < 0.4:
        outputs = ["e.symbol", "count(*)", rng.choice(["sum(t.amount_usd)", "max(t.block_number)", "min(t.project)"])]
        tail, keys = order_limit(outputs)
        sql = (f"SELECT {', '.join(outputs)} FROM {{trades}} t {kind} {{erc20}} e ON {on}"
               f"{where_of(preds)} GROUP BY e.symbol{tail}")
        return sql, keys
    outputs = ["t.tx_hash", "t.evt_index", rng.choice(["e.symbol", "e.decimals"]), rng.choice(["t.project", "t.amount_usd"])]
    tail, keys = order_limit(outputs)
    return f"SELECT {', '.join(outputs)} FROM {{trades}} t {kind} {{erc20}} e ON {on}{where_of(preds)}{tail}", keys


def local_join_query(tables, values):
    preds = [predicate("t", TRADES, values["trades"]) for _ in range(rng.choice([0, 1, 2]))]
    if rng.random() < 0.5:
        outputs = ["w.label", "count(*)", "sum(t.token_bought_amount_raw)"]
        tail, keys = order_limit(outputs)
        return (f"SELECT {', '.join(outputs)} FROM {{trades}} t JOIN watchlist w ON w.project = t.project"
                f"{where_of(preds)} GROUP BY w.label{tail}"), keys
    outputs = ["w.label", "t.block_number", "t.evt_index", "t.amount_usd"]
    tail, keys = order_limit(outputs)
    return (f"SELECT {', '.join(outputs)} FROM watchlist w JOIN {{trades}} t ON t.project = w.project"
            f"{where_of(preds)}{tail}"), keys


def normal(v):
    if isinstance(v, float):
        return float(f"{v:.12g}")
    if isinstance(v, decimal.Decimal):
        return decimal.Decimal(f"{v:.12g}") if v != v.to_integral_value() else v
    return v


def rows_key(rows):
    return [tuple(normal(x) for x in r) for r in rows]


def run(cur, sql, names, prepared):
    text, args = with_constants(sql.format(**names), prepared)
    if not prepared:
        cur.execute(text)
        return cur.fetchall()
    cur.execute(f"PREPARE dt_q AS {text}")
    try:
        cur.execute(f"EXECUTE dt_q({', '.join(args)})")
        return cur.fetchall()
    finally:
        cur.execute("DEALLOCATE dt_q")


FOREIGN = {"trades": "dt_dex.trades", "erc20": "dt_tokens.erc20"}
LOCAL = {"trades": "dt_local_trades", "erc20": "dt_local_erc20"}


PUSHED = {"WHERE": 0, "GROUP BY": 0, "ORDER BY": 0, "LIMIT": 0, "JOIN": 0}


def count_pushed(cur, sql):
    """Counts the clauses the DuneSQL of the foreign form has (EXPLAIN VERBOSE runs nothing)."""
    cur.execute("EXPLAIN (VERBOSE) " + sql.format(**FOREIGN).replace(MARK, ""))
    text = "\n".join(r[0] for r in cur.fetchall() if "Dune SQL:" in r[0])
    for clause in PUSHED:
        PUSHED[clause] += f" {clause} " in text


def compare(cur, values, case):
    make = rng.choices([scan_query, top_query, group_query, join_query, local_join_query],
                       weights=[35, 10, 25, 15, 15])[0]
    sql, keys = make(None, values)
    count_pushed(cur, sql)
    # an infinite constant is sent only as a parameter (a generic plan's): always prepared
    prepared = MARK in sql and (rng.random() < 0.25 or "infinity" in sql or "NaN" in sql)
    if prepared:
        cur.execute("SET plan_cache_mode = force_generic_plan")
    try:
        expected = run(cur, sql, LOCAL, prepared)
        try:
            got = run(cur, sql, FOREIGN, prepared)
        except psycopg.Error as e:
            return f"over Dune's tables it failed ({str(e).strip()})\n  {sql}"
    finally:
        if prepared:
            cur.execute("RESET plan_cache_mode")
    exp, out = rows_key(expected), rows_key(got)
    if keys:
        same = [tuple(r[k - 1] for k in keys) for r in out] == [tuple(r[k - 1] for k in keys) for r in exp]
        same = same and sorted(map(repr, out)) == sorted(map(repr, exp))
    else:
        same = sorted(map(repr, out)) == sorted(map(repr, exp))
    if not same:
        text = sql.replace(MARK, "")
        return (f"rows differ: {len(got)} over Dune, {len(expected)} locally"
                f"{' (prepared, generic plan)' if prepared else ''}\n  {text}\n"
                f"  over Dune: {got[:3]}\n  locally: {expected[:3]}")
    return "ok"


def main():
    with connect() as conn, conn.cursor() as cur:
        cur.execute("SET dune_fdw.progress = off")
        cur.execute("SET client_min_messages = warning")
        emulator("settings", "POST", {"pending_ms": 0, "execution_ms": 0})
        try:
            for s in ("dt_dex", "dt_tokens"):
                cur.execute(f"DROP SCHEMA IF EXISTS {s} CASCADE")
                cur.execute(f"CREATE SCHEMA {s}")
            cur.execute('IMPORT FOREIGN SCHEMA "dex" LIMIT TO (trades) FROM SERVER dune INTO dt_dex')
            cur.execute("IMPORT FOREIGN SCHEMA tokens FROM SERVER dune INTO dt_tokens")
            # the form computed in PostgreSQL: the unfiltered rows, copied once
            cur.execute("DROP TABLE IF EXISTS dt_local_trades, dt_local_erc20, watchlist")
            cur.execute("CREATE TABLE dt_local_trades AS SELECT * FROM dt_dex.trades")
            cur.execute("CREATE TABLE dt_local_erc20 AS SELECT * FROM dt_tokens.erc20")
            cur.execute("CREATE TABLE watchlist AS SELECT DISTINCT project, upper(coalesce(project, '?')) || '!' AS label "
                        "FROM dt_local_trades WHERE project IS NOT NULL ORDER BY 1 LIMIT 6")
            cur.execute("SELECT count(*) FROM dt_local_trades")
            n = cur.fetchone()[0]
            tally.check(n >= 1000, "the unfiltered copy of dex.trades holds its rows", f"{n} rows")
            values = {"trades": {c: values_of(cur, "dt_local_trades", c) for c, _ in TRADES},
                      "erc20": {c: values_of(cur, "dt_local_erc20", c) for c, _ in ERC20}}
            differences = 0
            for case in range(CASES):
                outcome = compare(cur, values, case)
                differences += outcome != "ok"
                tally.check(outcome == "ok", f"case {case} (seed {SEED})", outcome)
            print(f"dune tables differential: {CASES} queries compared, {differences} differences", flush=True)
            tally.check(CASES >= MIN_CASES, f"at least {MIN_CASES} queries", f"{CASES}")
            print(f"dune tables differential: DuneSQL with {PUSHED}", flush=True)
            # the comparison means something only if Dune did the work in many of them
            for clause, least in (("WHERE", CASES // 3), ("GROUP BY", CASES // 20),
                                  ("ORDER BY", CASES // 20), ("LIMIT", CASES // 30),
                                  ("JOIN", CASES // 30)):
                tally.check(PUSHED[clause] >= least, f"{clause} in the DuneSQL of at least {least} queries",
                            f"{PUSHED[clause]}")
        finally:
            emulator("settings", "POST", {"pending_ms": 300, "execution_ms": 1200})
            cur.execute("DROP SCHEMA IF EXISTS dt_dex, dt_tokens CASCADE")
            cur.execute("DROP TABLE IF EXISTS dt_local_trades, dt_local_erc20, watchlist")
    tally.finish()


main()
