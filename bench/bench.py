"""Times dune_fdw against the usual ways of loading Dune results into PostgreSQL.

Run by bench/run.sh, which starts a scratch cluster (PGHOST/PGPORT) and the emulator
(DUNE_API_URL). Prints a Markdown table and writes it to bench/results/."""

import datetime
import json
import os
import platform
import statistics
import subprocess
import threading
import time
import urllib.request

import psycopg
from dune_client.client import DuneClient

ROWS = int(os.environ.get("ROWS", "1000000"))
BIG_ROWS = int(os.environ.get("BIG_ROWS", "10000000"))
RUNS = int(os.environ.get("RUNS", "3"))
# Emulated network latency per request (ms) for the latency axis (A and D, one run each).
LATENCIES = [int(x) for x in os.environ.get("LATENCIES", "50,150").split(",") if x]
API = os.environ["DUNE_API_URL"]
ROOT = API.removesuffix("/api")
KEY = "emulator-key"
TMP = os.environ["BENCH_TMP"]
HERE = os.path.dirname(os.path.abspath(__file__))

COLUMNS = """block_time timestamptz, project text, block_number bigint, amount_usd float8,
             tx_hash bytea, amount_raw numeric, is_buy boolean, note text"""
# The hand pipelines load Dune's text as is: 0x hex stays text (COPY would misread it as bytea).
PLAIN_COLUMNS = COLUMNS.replace("tx_hash bytea", "tx_hash text")


def connect():
    return psycopg.connect(host=os.environ["PGHOST"], port=os.environ["PGPORT"], user="postgres", dbname="postgres", autocommit=True)


def emulator(path, method="GET", body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{ROOT}/_emulator/{path}", method=method, data=data)
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


def median_time(fn, runs=RUNS):
    fn()  # warm-up, untimed: the emulator caches pages as a storage-backed server serves them
    times = []

    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def execute(conn, rows):
    cur = conn.execute("SELECT dune_execute(9100001, %s)", (json.dumps({"rows": str(rows)}),))
    eid = cur.fetchone()[0]
    conn.execute("SELECT dune_wait(%s)", (eid,))
    return eid


class PeakMemory:
    """Samples a backend's anonymous resident memory (RssAnon) every 20 ms."""

    def __init__(self, pid):
        self.pid, self.peak, self.stop = pid, 0, threading.Event()

    def rss_anon_kb(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
        return 0

    def __enter__(self):
        self.start_kb = self.rss_anon_kb()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        return self

    def run(self):
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, self.rss_anon_kb())
            except OSError:
                return
            time.sleep(0.02)

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()

    @property
    def growth_mb(self):
        return max(0, self.peak - self.start_kb) / 1024


def main():
    conn = connect()
    conn.execute("CREATE EXTENSION IF NOT EXISTS dune_fdw")
    conn.execute(f"ALTER SERVER dune OPTIONS (SET api_url '{API}')")
    conn.execute(f"CREATE USER MAPPING IF NOT EXISTS FOR CURRENT_USER SERVER dune OPTIONS (api_key '{KEY}')")
    eid = execute(conn, ROWS)
    conn.execute(f"CREATE FOREIGN TABLE ft ({COLUMNS}) SERVER dune OPTIONS (execution_id '{eid}')")
    results = {}

    def a():
        conn.execute("DROP TABLE IF EXISTS t")
        conn.execute("CREATE TABLE t AS SELECT * FROM ft")

    def b():
        conn.execute("DROP TABLE IF EXISTS t")
        conn.execute("CREATE TABLE t AS SELECT * FROM dune_results(%s)", (eid,))

    def c():
        conn.execute("DROP TABLE IF EXISTS t")
        conn.execute(f"CREATE TABLE t ({PLAIN_COLUMNS})")
        path = f"{TMP}/result.csv"
        url = f"{API}/v1/execution/{eid}/results/csv?limit=32000"
        with open(path, "wb") as out:
            first = True
            while url:
                hdr = f"{TMP}/headers"
                body = subprocess.run(["curl", "-s", "-f", "-D", hdr, "-H", f"x-dune-api-key: {KEY}", url], check=True, capture_output=True).stdout
                out.write(body if first else body[body.index(b"\n") + 1 :])
                first = False
                url = None
                for line in open(hdr):
                    if line.lower().startswith("x-dune-next-uri:"):
                        url = line.split(":", 1)[1].strip()
        os.chmod(path, 0o644)
        conn.execute(f"COPY t FROM '{path}' WITH (FORMAT csv, HEADER true, NULL '<nil>')")

    def d():
        conn.execute("DROP TABLE IF EXISTS t")
        conn.execute(f"CREATE TABLE t ({PLAIN_COLUMNS})")
        client = DuneClient(api_key=KEY, base_url=ROOT, request_timeout=300)
        page = client.get_execution_results(eid, limit=32000)
        rows = list(page.get_rows())
        while page.next_uri:
            page = client._get_execution_results_by_url(url=page.next_uri)
            rows.extend(page.get_rows())
        names = ["block_time", "project", "block_number", "amount_usd", "tx_hash", "amount_raw", "is_buy", "note"]
        with conn.cursor() as cur, cur.copy(f"COPY t ({', '.join(names)}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row([r[n] for n in names])

    for name, fn in [("A", a), ("B", b), ("C", c), ("D", d)]:
        results[name] = median_time(fn)
        n = conn.execute("SELECT count(*) FROM t").fetchone()[0]
        assert n == ROWS, f"{name} loaded {n} rows"
        print(f"{name}: median {results[name][0]:.2f} s of {[round(x, 2) for x in results[name][1]]}", flush=True)

    # the latency axis: every request answered after a delay, as over a real network
    latency = [(0, results["A"][0], results["D"][0])]
    for ms in LATENCIES:
        emulator("settings", "POST", {"latency_ms": ms})
        at = [median_time(fn, runs=1)[0] for fn in (a, d)]
        latency.append((ms, at[0], at[1]))
        print(f"latency {ms} ms: A {at[0]:.2f} s, D {at[1]:.2f} s", flush=True)
    emulator("settings", "POST", {"latency_ms": 0})

    # peak backend memory during A, at ROWS and at BIG_ROWS
    memory = []
    big_eid = execute(conn, BIG_ROWS)
    conn.execute(f"CREATE FOREIGN TABLE ft_big ({COLUMNS}) SERVER dune OPTIONS (execution_id '{big_eid}')")
    for label, table in [(ROWS, "ft"), (BIG_ROWS, "ft_big")]:
        mconn = connect()
        pid = mconn.execute("SELECT pg_backend_pid()").fetchone()[0]
        mconn.execute("DROP TABLE IF EXISTS t_mem")
        with PeakMemory(pid) as m:
            start = time.perf_counter()
            mconn.execute(f"CREATE TABLE t_mem AS SELECT * FROM {table}")
            elapsed = time.perf_counter() - start
        memory.append((label, m.growth_mb, elapsed))
        print(f"memory at {label} rows: +{m.growth_mb:.1f} MB RssAnon ({elapsed:.1f} s)", flush=True)
        mconn.execute("DROP TABLE t_mem")
        mconn.close()

    # LIMIT 10 over the big result
    conn.execute("SELECT * FROM ft_big LIMIT 10").fetchall()
    emulator("reset", "POST")
    start = time.perf_counter()
    rows = conn.execute("SELECT * FROM ft_big LIMIT 10").fetchall()
    limit_time = time.perf_counter() - start
    assert len(rows) == 10
    limit_requests = emulator("stats?brief=1")["results_requests"]


    # polling a 60 s execution
    emulator("reset", "POST")
    start = time.time()
    status = conn.execute("SELECT dune_wait(dune_execute(9000003))").fetchone()[0]
    returned = time.time()
    ended = datetime.datetime.fromisoformat(status["execution_ended_at"].replace("Z", "+00:00")).timestamp()
    submitted = datetime.datetime.fromisoformat(status["submitted_at"].replace("Z", "+00:00")).timestamp()
    status_calls = emulator("stats?brief=1")["requests"].get("status", 0)
    lag = returned - ended
    runtime = ended - submitted

    report(results, memory, limit_time, limit_requests, status_calls, lag, runtime, latency)


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    mem = next((l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal")), "?")
    with connect() as c:
        pg = c.execute("SHOW server_version").fetchone()[0]
    return f"{os.cpu_count()} × {cpu}, {int(mem) // 1024 // 1024} GiB RAM, Linux {platform.release()}, PostgreSQL {pg}"


def report(results, memory, limit_time, limit_requests, status_calls, lag, runtime, latency):
    a, c, d = results["A"][0], results["C"][0], results["D"][0]
    ok = lambda cond: "met" if cond else "**not met**"
    lines = [
        f"# dune_fdw benchmark, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {machine()}. Emulator and PostgreSQL on the same machine, over 127.0.0.1.",
        f"Result: synthetic query 9100001, {ROWS:,} rows × 8 columns (timestamptz, varchar, bigint, double, varbinary, uint256, boolean, a mostly-NULL varchar). Median of {RUNS} runs.",
        "",
        "| | what | median | ratio to A |",
        "|---|---|---|---|",
        f"| A | `CREATE TABLE t AS SELECT * FROM <typed foreign table>` | {a:.2f} s | 1.00 |",
        f"| B | `CREATE TABLE t AS SELECT * FROM dune_results(id)` (jsonb rows) | {results['B'][0]:.2f} s | {results['B'][0] / a:.2f} |",
        f"| C | curl every CSV page to a file, then `COPY t FROM` it | {c:.2f} s | {c / a:.2f} |",
        f"| D | dune-client `get_execution_results` paging, then psycopg `COPY` | {d:.2f} s | {d / a:.2f} |",
        "",
        "| measure | value | target | |",
        "|---|---|---|---|",
        f"| A vs C | A = {a / c:.2f} × C | ≤ 1.0 × C | {ok(a <= c)} |",
        f"| D vs A | A is {d / a:.1f} × faster than D | ≥ 5 × | {ok(d / a >= 5)} |",
        f"| B vs C | B = {results['B'][0] / c:.2f} × C | ≤ 1.5 × C | {ok(results['B'][0] <= 1.5 * c)} |",
    ]
    for rows, growth, elapsed in memory:
        lines.append(f"| backend memory growth during A, {rows:,} rows | +{growth:.1f} MB (RssAnon peak; {elapsed:.1f} s) | ≤ 64 MB | {ok(growth <= 64)} |")
    lines += [
        f"| `SELECT * FROM <{BIG_ROWS:,}-row table> LIMIT 10` | {limit_time * 1000:.0f} ms, {limit_requests:.0f} results request(s) | 1 request, < 100 ms | {ok(limit_requests == 1 and limit_time < 0.1)} |",
        f"| polling a {runtime:.0f} s execution | {status_calls} status calls, returned {lag:.2f} s after it ended | ≤ 20 calls, ≤ max(10 %, 0.5 s) late | {ok(status_calls <= 20 and lag <= max(0.1 * runtime, 0.5))} |",
    ]
    lines += [
        "",
        "Emulated network latency per request (the emulator's `latency_ms`; A and D, one run each past 0 ms):",
        "",
        "| latency per request | A | D | A faster than D by |",
        "|---|---|---|---|",
    ]
    lines += [f"| {ms} ms | {ta:.2f} s | {td:.2f} s | {td / ta:.1f} × |" for ms, ta, td in latency]
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    name = f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%dT%H%M}-{platform.node() or 'machine'}.md"
    with open(os.path.join(HERE, "results", name), "w") as f:
        f.write(text)
    print(f"written to bench/results/{name}")


if __name__ == "__main__":
    main()
