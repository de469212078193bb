"""ALTER EXTENSION dune_fdw UPDATE from the first release (0.1.0, its install script kept in
tests/packaging) on a database whose views, foreign tables and materialized views use the
extension: afterwards the extension must match a fresh install object for object (signatures,
properties, comments), and every object must read the same rows as before.

Env: see tests/harness.py."""

import os
import sys

from psycopg import sql

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import API_URL, Tally, connect  # noqa: E402

# Every member of the extension, described with what users see of it.
CATALOG = """
SELECT pg_describe_object(d.classid, d.objid, 0) AS object,
       coalesce(obj_description(d.objid, d.classid::regclass::name), '') AS comment,
       coalesce((SELECT format('%s -> %s %s %s %s %s', pg_get_function_arguments(p.oid), pg_get_function_result(p.oid),
                               p.prosrc, p.provolatile, p.proisstrict, p.proparallel)
                 FROM pg_proc p WHERE d.classid = 'pg_proc'::regclass AND p.oid = d.objid), '') AS signature,
       coalesce((SELECT array_to_string(srvoptions, ',') FROM pg_foreign_server s
                 WHERE d.classid = 'pg_foreign_server'::regclass AND s.oid = d.objid), '') AS options
FROM pg_depend d JOIN pg_extension e ON d.refobjid = e.oid AND d.refclassid = 'pg_extension'::regclass
WHERE e.extname = 'dune_fdw' AND d.deptype = 'e'
ORDER BY 1
"""

READS = {
    "foreign table": "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM trades t",
    "view over it": "SELECT md5(string_agg(v::text, '|' ORDER BY v::text)) FROM big_trades v",
    "materialized view over dune_latest": "SELECT count(*) FROM latest_tables",
    "view over dune_latest_results": "SELECT count(*) FROM day_rows",
}


def database(admin, name):
    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return connect(dbname=name)


def main():
    t = Tally("packaging upgrade")
    admin = connect()
    db = database(admin, "dune_fdw_upgrade")
    db.execute("CREATE EXTENSION dune_fdw VERSION '0.1.0'")
    db.execute(sql.SQL("ALTER SERVER dune OPTIONS (SET api_url {})").format(sql.Literal(API_URL)))
    db.execute("CREATE USER MAPPING FOR CURRENT_USER SERVER dune OPTIONS (api_key 'emulator-key')")
    db.execute("""CREATE FOREIGN TABLE trades (block_time timestamptz, project text, usd_amount float8, tx_hash bytea)
                  SERVER dune OPTIONS (query_id '1258228')""")
    db.execute("CREATE VIEW big_trades AS SELECT project, usd_amount FROM trades WHERE usd_amount > 1000")
    db.execute("CREATE MATERIALIZED VIEW latest_tables AS SELECT r FROM dune_latest(3493826) r")
    db.execute("""CREATE VIEW day_rows AS SELECT "row" FROM dune_latest_results
                  WHERE query_id = 1252207 AND params = '{"Time Period": "day"}'""")
    before = {k: db.execute(q).fetchone()[0] for k, q in READS.items()}
    t.check(db.execute("SELECT extversion FROM pg_extension WHERE extname = 'dune_fdw'").fetchone()[0] == "0.1.0",
            "0.1.0 installed")

    db.execute("ALTER EXTENSION dune_fdw UPDATE")
    version = db.execute("SELECT extversion FROM pg_extension WHERE extname = 'dune_fdw'").fetchone()[0]
    t.check(version == "0.5.0", "ALTER EXTENSION dune_fdw UPDATE reaches 0.5.0 (through 0.2.0, 0.3.0 and 0.4.0)", version)
    db.execute("REFRESH MATERIALIZED VIEW latest_tables")
    after = {k: db.execute(q).fetchone()[0] for k, q in READS.items()}
    for k in READS:
        t.check(before[k] == after[k] and before[k] not in (None, 0), f"{k} reads the same rows after the update",
                f"{before[k]} / {after[k]}")
    t.check(db.execute("SELECT count(*) FROM dune_in_flight()").fetchone()[0] == 0, "the new function works")
    t.check(db.execute("SELECT dune_cache_clear() >= 0").fetchone()[0], "0.3.0's functions work")
    t.check(db.execute("SELECT dune_query(1252207) ->> 'name'").fetchone()[0] == "NFT marketplace volumes",
            "0.4.0's functions work")
    t.check(db.execute("SELECT count(*) FROM dune_tables()").fetchone()[0] >= 0, "0.5.0's functions work")
    upgraded = db.execute(CATALOG).fetchall()
    db.close()

    fresh_db = database(admin, "dune_fdw_fresh")
    fresh_db.execute("CREATE EXTENSION dune_fdw")
    fresh = fresh_db.execute(CATALOG).fetchall()
    fresh_db.close()
    missing = sorted(set(fresh) - set(upgraded))
    extra = sorted(set(upgraded) - set(fresh))
    # the server's api_url was changed on purpose above
    extra = [e for e in extra if not (e[0] == "server dune")]
    missing = [m for m in missing if not (m[0] == "server dune")]
    t.check(not missing and not extra, f"the upgraded extension equals a fresh install ({len(fresh)} objects)",
            f"missing {missing}, extra {extra}")
    print(f"  {len(fresh)} extension objects compared; rows before/after: {before}")
    for name in ("dune_fdw_upgrade", "dune_fdw_fresh"):
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    t.finish()


if __name__ == "__main__":
    main()
