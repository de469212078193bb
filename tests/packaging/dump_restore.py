"""pg_dump of a database that uses dune_fdw (servers with changed options, user mappings,
typed foreign tables with column options, imported tables, views, a database-level
dune_fdw.server), restored with pg_restore into a fresh cluster: everything comes back and the
restored tables read the same rows. The server `dune` that CREATE EXTENSION makes does not
belong to the extension, so its changed options and its user mappings come back too.

Env: see tests/harness.py; PG_BIN, PostgreSQL's bin directory."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile

import psycopg
from psycopg import sql

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import API_URL, Tally, connect  # noqa: E402

PG_BIN = os.environ["PG_BIN"]
DB = "dune_fdw_dump"
TABLES = {  # table: the statement whose result must survive the trip
    "on_dune": "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM on_dune t",
    "dune_latest_results": "SELECT md5(string_agg(r::text, '|' ORDER BY r::text)) FROM dune_latest_results r WHERE query_id = 3493826",
    "on_mine": "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM on_mine t",
    "imported.query_1258228": "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM imported.query_1258228 t",
    "joined view": "SELECT md5(string_agg(v::text, '|' ORDER BY v::text)) FROM wallet_trades v",
}


def as_pg(args, **kw):
    """As scripts/lib.sh does: clusters belong to postgres when we are root, else to us."""
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run(prefix + args, check=True, capture_output=True, text=True, **kw)



def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_source(admin):
    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DB)))
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB)))
    admin.execute("DROP ROLE IF EXISTS dune_dumped_analyst")
    admin.execute("CREATE ROLE dune_dumped_analyst")
    db = connect(dbname=DB)
    url = sql.Literal(API_URL)
    for s in [
        sql.SQL("CREATE EXTENSION dune_fdw"),
        sql.SQL("ALTER SERVER dune OPTIONS (SET api_url {}, ADD fetch_size '500')").format(url),
        sql.SQL("""CREATE SERVER mine FOREIGN DATA WRAPPER dune_fdw
                   OPTIONS (api_url {}, fetch_size '1000', request_timeout_ms '30000', max_retries '3')""").format(url),
        sql.SQL("CREATE USER MAPPING FOR CURRENT_USER SERVER dune OPTIONS (api_key 'emulator-key')"),
        sql.SQL("CREATE USER MAPPING FOR CURRENT_USER SERVER mine OPTIONS (api_key 'emulator-key')"),
        sql.SQL("CREATE USER MAPPING FOR dune_dumped_analyst SERVER mine OPTIONS (api_key 'analyst-key')"),
        sql.SQL("GRANT USAGE ON FOREIGN SERVER mine TO dune_dumped_analyst"),
        sql.SQL("""CREATE FOREIGN TABLE on_mine (block_time timestamptz, dex text OPTIONS (column_name 'project'),
                   usd_amount float8, tx_hash bytea) SERVER mine OPTIONS (query_id '1258228')"""),
        sql.SQL("""CREATE FOREIGN TABLE on_dune (n jsonb OPTIONS (column_name 'TableName'), ct bigint)
                   SERVER dune OPTIONS (query_id '3493826')"""),
        sql.SQL("CREATE SCHEMA imported"),
        sql.SQL("IMPORT FOREIGN SCHEMA dune LIMIT TO (query_1258228) FROM SERVER mine INTO imported"),
        sql.SQL("CREATE TABLE wallets (tx_hash bytea PRIMARY KEY, owner text)"),
        sql.SQL("INSERT INTO wallets SELECT tx_hash, 'desk ' || row_number() OVER () FROM on_mine LIMIT 3"),
        sql.SQL("""CREATE VIEW wallet_trades AS SELECT w.owner, t.dex, t.usd_amount
                   FROM on_mine t JOIN wallets w USING (tx_hash)"""),
        sql.SQL("GRANT SELECT ON wallet_trades TO dune_dumped_analyst"),
        sql.SQL("ALTER DATABASE {} SET dune_fdw.server = 'mine'").format(sql.Identifier(DB)),
    ]:
        db.execute(s)
    return db


def describe(db):
    """What the restore must bring back, besides rows."""
    return {
        "servers": [(n, sorted(o)) for n, o in db.execute("SELECT srvname, srvoptions FROM pg_foreign_server ORDER BY 1")],
        "comments": db.execute("""SELECT obj_description(oid, 'pg_foreign_server') FROM pg_foreign_server
                                  UNION ALL SELECT obj_description('dune_latest_results'::regclass, 'pg_class')""").fetchall(),
        "mappings": db.execute("SELECT srvname, usename, umoptions FROM pg_user_mappings ORDER BY 1, 2").fetchall(),
        "tables": db.execute("""SELECT c.relname, ft.ftoptions FROM pg_foreign_table ft JOIN pg_class c
                                ON c.oid = ft.ftrelid ORDER BY 1""").fetchall(),
        "column options": db.execute("""SELECT attname, attfdwoptions FROM pg_attribute
                                        WHERE attfdwoptions IS NOT NULL ORDER BY 1""").fetchall(),
        "setting": db.execute("SHOW dune_fdw.server").fetchone()[0],
    }


def main():
    t = Tally("packaging dump-restore")
    admin = connect()
    src = build_source(admin)
    src.close()
    src = connect(dbname=DB)  # a new session, to see the database's setting
    want_rows = {k: src.execute(q).fetchone()[0] for k, q in TABLES.items()}
    want = describe(src)
    src.close()

    work = tempfile.mkdtemp(prefix="dune_fdw_restore.")
    os.chmod(work, 0o777)
    dump = os.path.join(work, "dune.dump")
    subprocess.run([f"{PG_BIN}/pg_dump", "-Fc", "--create", "-U", "postgres", "-f", dump, DB], check=True)
    data, port = os.path.join(work, "data"), free_port()
    if os.geteuid() == 0:
        shutil.chown(work, "postgres", "postgres")
    as_pg([f"{PG_BIN}/initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"])
    with open(os.path.join(data, "postgresql.conf"), "a") as f:
        f.write(f"listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{work}'\nfsync = off\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUST_")}
    as_pg([f"{PG_BIN}/pg_ctl", "-D", data, "-l", os.path.join(work, "log"), "-w", "start"], env=env)
    try:
        other = dict(host=work, port=port, user="postgres", autocommit=True)
        with psycopg.connect(dbname="postgres", **other) as c:
            c.execute("CREATE ROLE dune_dumped_analyst")  # roles travel with pg_dumpall --roles-only
        restore = subprocess.run([f"{PG_BIN}/pg_restore", "--create", "--exit-on-error", "-h", work, "-p", str(port),
                                  "-U", "postgres", "-d", "postgres", dump], capture_output=True, text=True)
        t.check(restore.returncode == 0, "pg_restore --exit-on-error succeeds", restore.stderr[-500:])
        with psycopg.connect(dbname=DB, **other) as db:
            got = describe(db)
            for k in want:
                t.check(got[k] == want[k], f"restored {k}", f"{got[k]} != {want[k]}")
            for k, q in TABLES.items():
                rows = db.execute(q).fetchone()[0]
                t.check(rows == want_rows[k] and rows is not None, f"{k} reads the same rows after the restore")
            members = db.execute("""SELECT count(*) FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
                                    WHERE e.extname = 'dune_fdw' AND d.deptype = 'e'""").fetchone()[0]
            t.check(members == 31, "the extension has its 31 members, nothing twice", str(members))
    finally:
        as_pg([f"{PG_BIN}/pg_ctl", "-D", data, "-m", "fast", "-w", "stop"])
        shutil.rmtree(work, ignore_errors=True)
    admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(DB)))
    admin.execute("DROP ROLE dune_dumped_analyst")
    t.finish()


if __name__ == "__main__":
    main()
