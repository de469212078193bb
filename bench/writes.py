"""Times writing a local table into a Dune table: dune_fdw's `INSERT INTO <foreign table> SELECT`
against the official SDK's `insert_data` with the same rows from a CSV file (issue 15), and
checks that the rows read back through the foreign table are the local ones (count and md5).

Run by bench/run.sh (PARTS=writes for this part alone), which starts a scratch cluster
(PGHOST/PGPORT) and the emulator (DUNE_API_URL). Prints a Markdown table and writes it to
bench/results/."""

import datetime
import json
import os
import statistics
import time
import urllib.request

import psycopg
from psycopg import sql
from dune_client.client import DuneClient

ROWS = int(os.environ.get("WRITE_ROWS", "1000000"))
LATENCIES = [int(x) for x in os.environ.get("LATENCIES", "0,150").split(",") if x]
RUNS = int(os.environ.get("WRITE_RUNS", "3"))
API = os.environ["DUNE_API_URL"]
ROOT = API.removesuffix("/api")
KEY = "emulator-key"
NAMESPACE = "dune_fdw_emulator"
TMP = os.environ["BENCH_TMP"]
HERE = os.path.dirname(os.path.abspath(__file__))
# md5 over the rows in a canonical text form, the same for the local and the foreign table
DIGEST = """SELECT count(*), md5(string_agg(concat_ws('|', id, encode(address, 'hex'), label, amount,
            to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS')), ',' ORDER BY id)) FROM {}"""


def connect():
    return psycopg.connect(host=os.environ["PGHOST"], port=os.environ["PGPORT"], user="postgres",
                           dbname="postgres", autocommit=True)


def emulator(path, method="GET", body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{ROOT}/_emulator/{path}", method=method, data=data)
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


def setup(conn):
    conn.execute("SET client_min_messages = warning")
    conn.execute("DROP TABLE IF EXISTS write_source")
    # timestamps in whole milliseconds: Dune keeps milliseconds
    conn.execute(f"""CREATE TABLE write_source AS SELECT i::bigint AS id,
        decode(md5(i::text) || lpad(to_hex(i), 8, '0'), 'hex') AS address,
        'label ' || (i % 997) AS label,
        (i::numeric * 1000000000000000000) AS amount,
        timestamptz '2024-01-01 00:00:00+00' + i * interval '1.5 second' AS at
        FROM generate_series(1, {ROWS}) i""")
    conn.execute("ALTER TABLE write_source ALTER COLUMN amount TYPE numeric(78, 0)")
    path = os.path.join(TMP, "rows.csv")
    os.chmod(TMP, 0o777)
    conn.execute(f"""COPY (SELECT id, '0x' || encode(address, 'hex') AS address, label, amount,
        to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at FROM write_source ORDER BY id)
        TO '{path}' WITH (FORMAT csv, HEADER)""")
    return path


def fresh_table(conn, name):
    try:
        conn.execute("SELECT dune_drop_table(%s, %s)", (NAMESPACE, name))
    except psycopg.Error:
        pass
    conn.execute("SELECT dune_create_table(%s, %s, 'write_source'::regclass)", (NAMESPACE, name))


def fdw_insert(conn):
    fresh_table(conn, "bench_fdw")
    conn.execute(f"""CREATE FOREIGN TABLE IF NOT EXISTS bench_fdw (id bigint, address bytea, label text,
        amount numeric(78, 0), at timestamptz) SERVER dune OPTIONS (dune_table '{NAMESPACE}.bench_fdw')""")
    start = time.perf_counter()
    conn.execute("INSERT INTO bench_fdw SELECT * FROM write_source")
    return time.perf_counter() - start


def sdk_insert(conn, path):
    fresh_table(conn, "bench_sdk")
    client = DuneClient(api_key=KEY, base_url=ROOT, request_timeout=600)
    start = time.perf_counter()
    with open(path, "rb") as f:
        client.insert_data(NAMESPACE, "bench_sdk", f, content_type="text/csv")
    return time.perf_counter() - start


def main():
    conn = connect()
    conn.execute("CREATE EXTENSION IF NOT EXISTS dune_fdw")
    conn.execute(sql.SQL("ALTER SERVER dune OPTIONS (SET api_url {})").format(sql.Literal(API)))
    conn.execute("DROP USER MAPPING IF EXISTS FOR CURRENT_USER SERVER dune")
    conn.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER dune OPTIONS (api_key '{KEY}')")
    path = setup(conn)
    size_mb = os.path.getsize(path) / 1e6
    lines = [f"# Writes: {ROWS:,} rows × 5 columns into a Dune table ({datetime.date.today()})", "",
             f"CSV file for the SDK: {size_mb:.0f} MB. Median of {RUNS} runs.", "",
             "| latency | A: INSERT INTO foreign table SELECT | B: dune-client insert_data (CSV file) | A/B | requests A / B |",
             "|---|---|---|---|---|"]
    checked = None
    for latency in LATENCIES:
        emulator("settings", "POST", {"latency_ms": latency})
        times_a, times_b = [], []
        for _ in range(RUNS):
            emulator("reset", "POST")
            times_a.append(fdw_insert(conn))
            requests_a = emulator("stats?brief=1")["requests"].get("uploads_insert", 0)
            emulator("reset", "POST")
            times_b.append(sdk_insert(conn, path))
            requests_b = emulator("stats?brief=1")["requests"].get("uploads_insert", 0)
        a, b = statistics.median(times_a), statistics.median(times_b)
        lines.append(f"| {latency} ms | {a:.2f} s | {b:.2f} s | {a / b:.2f} | {requests_a} / {requests_b} |")
        print(lines[-1], flush=True)
        if checked is None:
            local = conn.execute(DIGEST.format("write_source")).fetchone()
            remote = conn.execute(DIGEST.format("bench_fdw")).fetchone()
            checked = (local, remote)
    emulator("settings", "POST", {"latency_ms": 0})
    local, remote = checked
    same = local == remote
    lines += ["", f"Read back through the foreign table: {remote[0]:,} rows, md5 {remote[1]}; "
              f"local table: {local[0]:,} rows, md5 {local[1]}: **{'identical' if same else 'DIFFERENT'}**."]
    text = "\n".join(lines) + "\n"
    print(text)
    out = os.path.join(HERE, "results", datetime.datetime.now().strftime("%Y-%m-%dT%H%M") + "-writes.md")
    with open(out, "w") as f:
        f.write(text)
    conn.execute("DROP FOREIGN TABLE IF EXISTS bench_fdw")
    for name in ("bench_fdw", "bench_sdk"):
        conn.execute("SELECT dune_drop_table(%s, %s)", (NAMESPACE, name))
    if not same:
        raise SystemExit("the rows read back differ from the local table")


if __name__ == "__main__":
    main()
