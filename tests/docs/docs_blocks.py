"""Every ```sql and ```python block of the README and docs/ runs, in order, against the emulator,
so the documentation cannot rot. Each document gets its own database; psql runs the SQL blocks
(meta-commands such as \\copy and \\d work) with ON_ERROR_STOP. Two adaptations, both needed
because the test cluster is not a user's: the extension is created beforehand with the server
dune pointed at the emulator (so `CREATE EXTENSION dune_fdw` in a block becomes `... IF NOT
EXISTS`), and the placeholder keys of the docs are keys the emulator accepts.

Then the pg_cron recipe is made to really run: its job is set to every minute and the test
waits until pg_cron has refreshed the materialized view.

Env: see tests/harness.py; PSQL; DOCS_CRON_DB, the database named by cron.database_name."""

import os
import re
import subprocess
import sys
import tempfile
import time

from psycopg import sql

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import API_URL, Tally, connect, emulator  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
CRON_DB = os.environ.get("DOCS_CRON_DB", "dune_fdw_docs")
DOCS = [("README.md", "dune_fdw_docs_readme"), ("docs/recipes.md", CRON_DB)]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def blocks(path):
    with open(os.path.join(ROOT, path)) as f:
        text = f.read()
    for m in FENCE.finditer(text):
        if m.group(1) in ("sql", "python"):
            line = text[: m.start()].count("\n") + 1
            yield m.group(1), m.group(2), line


def prepare(admin, db, fresh):
    if fresh:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
    c = connect(dbname=db)
    c.execute("CREATE EXTENSION IF NOT EXISTS dune_fdw")
    c.execute(sql.SQL("ALTER SERVER dune OPTIONS (SET api_url {})").format(sql.Literal(API_URL)))
    c.close()


def run_block(kind, code, db, cwd):
    env = dict(os.environ, PGDATABASE=db)
    if kind == "sql":
        code = re.sub(r"CREATE EXTENSION dune_fdw\b", "CREATE EXTENSION IF NOT EXISTS dune_fdw", code)
        cmd = [os.environ.get("PSQL", "psql"), "-X", "-v", "ON_ERROR_STOP=1", "-f", "-"]
    else:
        cmd = [sys.executable, "-"]
    return subprocess.run(cmd, input=code, text=True, capture_output=True, cwd=cwd, env=env, timeout=300)


def cron_really_refreshes(t, db):
    c = connect(dbname=db)
    job = c.execute("SELECT jobid FROM cron.job WHERE jobname = 'refresh-dex-volume'").fetchone()
    if not t.check(job is not None, "the pg_cron recipe scheduled its job"):
        return
    before = c.execute("SELECT max(refreshed_at) FROM dex_volume").fetchone()[0]
    c.execute("SELECT cron.alter_job(%s, schedule := '* * * * *')", (job[0],))  # pg_cron 1.4: minutes
    start = time.time()
    while time.time() - start < 150:
        runs = c.execute("""SELECT status, return_message FROM cron.job_run_details WHERE jobid = %s
                            AND status IN ('succeeded', 'failed')""", (job[0],)).fetchall()
        if runs:
            break
        time.sleep(1)
    after = c.execute("SELECT max(refreshed_at) FROM dex_volume").fetchone()[0]
    print(f"  pg_cron: runs {runs} after {time.time() - start:.0f} s; refreshed_at {before} -> {after}")
    t.check(runs and runs[0][0] == "succeeded" and after > before, "pg_cron really refreshed the materialized view",
            str(runs))
    c.execute("SELECT cron.unschedule('refresh-dex-volume')")
    c.close()


def main():
    t = Tally("docs blocks")
    admin = connect()
    text = "".join(open(os.path.join(ROOT, p)).read() for p, _ in DOCS)
    for key in set(re.findall(r"api_key '([^']+)'", text)):
        emulator("settings", "POST", {"add_api_key": key})
    cron = admin.execute("SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_cron'").fetchone()[0] > 0
    t.check(cron, "pg_cron is installed (scripts/lib.sh installs postgresql-15-cron)")
    for path, db in DOCS:
        prepare(admin, db, fresh=(db != CRON_DB))  # pg_cron stays connected to its database
        with tempfile.TemporaryDirectory() as cwd:
            os.chmod(cwd, 0o777)
            n = 0
            for kind, code, line in blocks(path):
                n += 1
                r = run_block(kind, code, db, cwd)
                t.check(r.returncode == 0, f"{path}:{line} ({kind} block) runs",
                        (r.stdout[-600:] + r.stderr[-1200:]).strip())
            print(f"  {path}: {n} blocks", flush=True)
        if db == CRON_DB and cron:
            cron_really_refreshes(t, db)
    t.finish()


if __name__ == "__main__":
    main()
