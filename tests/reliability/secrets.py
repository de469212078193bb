"""Secrets: with log_min_messages = debug5 and every statement logged, run what handles an API
key (successful calls, a rejected key, a failing query, EXPLAIN VERBOSE, a NOTICE, a call that
is cancelled while other sessions look at pg_stat_activity), then search the server log, the
messages and what other roles can read for the key. Also: nobody but a superuser learns
another role's key from the catalogs.

Env: see tests/harness.py; PGLOG, the server log."""

import os
import sys
import threading
import time

import psycopg
from psycopg import sql

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import API_URL, Tally, connect, emulator, reset  # noqa: E402

KEY = "sk_live_SECRET_4f9c1e7a2b"
WRONG = "sk_live_WRONG_77aa0c31d9"


def main():
    t = Tally("reliability secrets")
    log = os.environ["PGLOG"]
    reset()
    emulator("settings", "POST", {"add_api_key": KEY})
    admin = connect()
    admin.execute("DROP SERVER IF EXISTS secret_srv CASCADE")  # left over by an interrupted run
    admin.execute("DROP ROLE IF EXISTS dune_secret_keeper")

    admin.execute(sql.SQL("CREATE SERVER secret_srv FOREIGN DATA WRAPPER dune_fdw OPTIONS (api_url {})").format(
        sql.Literal(API_URL)))
    admin.execute("CREATE ROLE dune_secret_keeper LOGIN")
    admin.execute("GRANT USAGE ON FOREIGN SERVER secret_srv TO dune_secret_keeper")
    admin.execute("""CREATE FOREIGN TABLE secret_trades (block_time timestamptz, amount_usd float8)
                     SERVER secret_srv OPTIONS (query_id '9100001', params '{"rows": "2000"}')""")
    admin.execute("GRANT SELECT ON secret_trades TO dune_secret_keeper")
    # The mappings are made before the log gets verbose: the statement text of CREATE USER
    # MAPPING is PostgreSQL's to log, not the extension's.
    admin.execute(f"CREATE USER MAPPING FOR dune_secret_keeper SERVER secret_srv OPTIONS (api_key '{KEY}')")
    admin.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER secret_srv OPTIONS (api_key '{WRONG}')")
    start = os.path.getsize(log)

    messages = []
    for setting in ("log_min_messages = debug5", "log_statement = 'all'", "log_min_error_statement = debug5"):
        admin.execute(f"ALTER ROLE dune_secret_keeper SET {setting}")
    user = connect(user="dune_secret_keeper")
    user.add_notice_handler(lambda d: messages.append(f"{d.severity}: {d.message_primary} {d.message_detail} {d.message_hint}"))
    user.execute("SET dune_fdw.server = 'secret_srv'")
    user.execute("SET client_min_messages = debug5")

    def attempt(statement):
        try:
            cur = user.execute(statement)
            return "\n".join(str(r) for r in cur.fetchall())
        except psycopg.Error as e:
            d = e.diag
            return f"ERROR {d.sqlstate}: {d.message_primary} {d.message_detail} {d.message_hint} {d.context}"

    outputs = [
        attempt("SELECT count(*) FROM dune_run(3493826)"),
        attempt("SELECT dune_status(dune_execute(9000002))"),
        attempt("SELECT count(*) FROM dune_run(9000002)"),  # a failing query
        attempt("SELECT count(*) FROM secret_trades WHERE amount_usd > 10"),
        attempt("EXPLAIN (VERBOSE) SELECT * FROM secret_trades WHERE amount_usd > 10 ORDER BY amount_usd LIMIT 5"),
        attempt("SELECT * FROM dune_results('01HKZJ2683PHF9Q9PHHQ8FW4Q1')"),  # unknown execution
    ]
    # While a call waits, what other sessions see.
    seen = []

    def long_call():
        seen.append(attempt("SELECT count(*) FROM dune_run(9000003)"))
    th = threading.Thread(target=long_call)
    th.start()
    time.sleep(1.0)
    seen += [str(r) for r in admin.execute(
        "SELECT query, wait_event_type, wait_event FROM pg_stat_activity WHERE usename = 'dune_secret_keeper'").fetchall()]
    admin.execute("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE usename = 'dune_secret_keeper'")
    th.join(10)
    t.check(any("Extension" in s for s in seen), "pg_stat_activity shows the wait for Dune", str(seen))
    # The same user with a rejected key (the superuser's mapping holds the wrong one).
    admin.execute("SET dune_fdw.server = 'secret_srv'")
    try:
        admin.execute("SELECT count(*) FROM dune_latest(3493826)")
        outputs.append("no error")
    except psycopg.Error as e:
        outputs.append(f"ERROR {e.diag.sqlstate}: {e.diag.message_primary} {e.diag.message_hint}")
    t.check("28000" in outputs[-1], "a rejected key is a clear 28000", outputs[-1])
    user.close()
    admin.execute("ALTER ROLE dune_secret_keeper RESET ALL")
    time.sleep(0.5)

    with open(log, encoding="utf-8", errors="replace") as f:
        f.seek(start)
        logged = f.read()
    t.check("DEBUG" in logged and "dune_run(9000002)" in logged, "the log is verbose (debug5, statements)",
            f"{len(logged)} bytes")
    for secret in (KEY, WRONG):
        t.check(secret not in logged, f"the key is not in the server log ({len(logged)} bytes at debug5)")
        t.check(not any(secret in o for o in outputs + seen + messages), "the key is not in results, errors, "
                "notices, EXPLAIN or pg_stat_activity", secret)
    t.check(any(m.startswith("DEBUG") for m in messages), "debug messages reached the client too", str(messages[:3]))


    # Catalogs: only a superuser reads another role's mapping options.
    other = connect(user="dune_secret_keeper")
    rows = other.execute("SELECT usename, umoptions FROM pg_user_mappings WHERE srvname = 'secret_srv' ORDER BY 1").fetchall()
    t.check(all(r[1] is None for r in rows if r[0] != "dune_secret_keeper"), "another role's mapping options are hidden",
            str(rows))
    try:
        other.execute("SELECT umoptions FROM pg_user_mapping")
        t.check(False, "pg_user_mapping is not readable by a plain role")
    except psycopg.errors.InsufficientPrivilege:
        t.check(True, "pg_user_mapping is not readable by a plain role")
    other.close()

    admin.execute("RESET dune_fdw.server")
    admin.execute("DROP SERVER secret_srv CASCADE")
    admin.execute("DROP OWNED BY dune_secret_keeper")
    admin.execute("DROP ROLE dune_secret_keeper")
    reset()
    t.finish()


if __name__ == "__main__":
    main()
