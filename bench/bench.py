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

# The size axis (rows of the result) and the latency axis (ms the emulator waits before
# answering each request, as a far server would); every contender runs at every point.
SIZES = [int(x) for x in os.environ.get("SIZES", "1000000,3000000,10000000").split(",") if x]
LATENCIES = [int(x) for x in os.environ.get("LATENCIES", "0,50,150").split(",") if x]
# Runs per point (their median); the first size at 0 ms gets RUNS, the rest POINT_RUNS.
RUNS = int(os.environ.get("RUNS", "3"))
POINT_RUNS = int(os.environ.get("POINT_RUNS", "1"))
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


def median_time(fn, runs=RUNS, warm=True):
    if warm:
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


NAMES = ["block_time", "project", "block_number", "amount_usd", "tx_hash", "amount_raw", "is_buy", "note"]


def contenders(conn, eid, table, memory):
    """The four ways of loading execution `eid` (typed foreign table `table`) into t."""

    def a():
        # its own backend, so that its memory is measured alone
        with connect() as c:
            pid = c.execute("SELECT pg_backend_pid()").fetchone()[0]
            c.execute("DROP TABLE IF EXISTS t")
            with PeakMemory(pid) as m:
                c.execute(f"CREATE TABLE t AS SELECT * FROM {table}")
            memory.append(m.growth_mb)

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
        # each page copied as it arrives (the SDK pages; nothing held but the current page)
        conn.execute("DROP TABLE IF EXISTS t")
        conn.execute(f"CREATE TABLE t ({PLAIN_COLUMNS})")
        client = DuneClient(api_key=KEY, base_url=ROOT, request_timeout=300)
        page = client.get_execution_results(eid, limit=32000)
        with conn.cursor() as cur, cur.copy(f"COPY t ({', '.join(NAMES)}) FROM STDIN") as copy:
            while True:
                for r in page.get_rows():
                    copy.write_row([r[n] for n in NAMES])
                if not page.next_uri:
                    break
                page = client._get_execution_results_by_url(url=page.next_uri)

    return {"A": a, "B": b, "C": c, "D": d}


def grid(conn):
    """Every contender at every size and latency: {(rows, ms): {name: seconds}}, A's memory
    growth by size, and A with fetch_concurrency 1 and 16 by latency (first size). Each
    contender is warmed, then timed at every latency, before the next: the emulator then keeps
    the pages of one contender at a time (10,000,000 rows of all four do not fit its cache)."""
    times, memory, sequential = {}, {}, {}
    for rows in SIZES:
        eid = execute(conn, rows)
        table = f"ft_{rows}"
        conn.execute(f"CREATE FOREIGN TABLE {table} ({COLUMNS}) SERVER dune OPTIONS (execution_id '{eid}')")
        mem = []
        fns = contenders(conn, eid, table, mem)
        runs = lambda ms: RUNS if (rows, ms) == (SIZES[0], LATENCIES[0]) else POINT_RUNS
        for name, fn in fns.items():
            emulator("settings", "POST", {"latency_ms": 0})
            fn()  # the warm-up: the emulator keeps the pages it served, as a storage-backed server
            for ms in LATENCIES:
                emulator("settings", "POST", {"latency_ms": ms})
                times.setdefault((rows, ms), {})[name] = median_time(fn, runs=runs(ms), warm=False)[0]
                n = conn.execute("SELECT count(*) FROM t").fetchone()[0]
                assert n == rows, f"{name} loaded {n} rows, not {rows}"
            print(f"{rows:,} rows, {name}: " + ", ".join(f"{ms} ms {times[(rows, ms)][name]:.2f} s" for ms in LATENCIES), flush=True)
        memory[rows] = max(mem)
        if rows == SIZES[0]:
            for n in (1, 16):
                conn.execute(f"ALTER FOREIGN TABLE {table} OPTIONS (ADD fetch_concurrency '{n}')")
                emulator("settings", "POST", {"latency_ms": 0})
                fns["A"]()  # warmed too: its requests ask other ranges
                for ms in LATENCIES:
                    emulator("settings", "POST", {"latency_ms": ms})
                    sequential[(n, ms)] = median_time(fns["A"], runs=1, warm=False)[0]
                conn.execute(f"ALTER FOREIGN TABLE {table} OPTIONS (DROP fetch_concurrency)")
                print(f"  A with fetch_concurrency {n}: " + ", ".join(f"{ms} ms {sequential[(n, ms)]:.2f} s" for ms in LATENCIES), flush=True)
        emulator("settings", "POST", {"latency_ms": 0})
    return times, memory, sequential, table


def main():
    conn = connect()
    conn.execute("CREATE EXTENSION IF NOT EXISTS dune_fdw")
    conn.execute(f"ALTER SERVER dune OPTIONS (SET api_url '{API}')")
    # the contenders are timed reading Dune: without the result cache, which would serve A's
    # and B's repeated reads itself (measured apart, below)
    cache_off = "SET" if conn.execute(
        "SELECT 'cache=off' = ANY(srvoptions) OR 'cache=on' = ANY(srvoptions) FROM pg_foreign_server WHERE srvname = 'dune'"
    ).fetchone()[0] else "ADD"
    conn.execute(f"ALTER SERVER dune OPTIONS ({cache_off} cache 'off')")
    conn.execute(f"CREATE USER MAPPING IF NOT EXISTS FOR CURRENT_USER SERVER dune OPTIONS (api_key '{KEY}')")
    times, memory, sequential, biggest = grid(conn)
    cached = cache_times(conn, SIZES[0])

    # LIMIT 10 over the biggest result
    conn.execute(f"SELECT * FROM {biggest} LIMIT 10").fetchall()
    emulator("reset", "POST")
    start = time.perf_counter()
    rows = conn.execute(f"SELECT * FROM {biggest} LIMIT 10").fetchall()
    limit_time = time.perf_counter() - start
    assert len(rows) == 10
    limit_requests = emulator("stats?brief=1")["results_requests"]

    # polling a 60 s execution
    emulator("reset", "POST")
    status = conn.execute("SELECT dune_wait(dune_execute(9000003))").fetchone()[0]
    returned = time.time()
    ended = datetime.datetime.fromisoformat(status["execution_ended_at"].replace("Z", "+00:00")).timestamp()
    submitted = datetime.datetime.fromisoformat(status["submitted_at"].replace("Z", "+00:00")).timestamp()
    status_calls = emulator("stats?brief=1")["requests"].get("status", 0)
    polling = (status_calls, returned - ended, ended - submitted)

    report(times, memory, sequential, (limit_time, limit_requests), polling, cached)


def cache_times(conn, rows):
    """A over a server with the result cache, at the farthest latency: the first read (from
    Dune, kept) and the second (from the cache), with the datapoints each was billed."""
    conn.execute(f"""CREATE SERVER IF NOT EXISTS dune_cached FOREIGN DATA WRAPPER dune_fdw
                     OPTIONS (api_url '{API}', cache 'on', cache_max_mb '8192')""")
    conn.execute(f"CREATE USER MAPPING IF NOT EXISTS FOR CURRENT_USER SERVER dune_cached OPTIONS (api_key '{KEY}')")
    eid = execute(conn, rows)
    conn.execute(f"CREATE FOREIGN TABLE cached_{rows} ({COLUMNS}) SERVER dune_cached OPTIONS (execution_id '{eid}')")
    # the emulator's pages warmed first through the server without the cache, as for the others
    conn.execute(f"CREATE FOREIGN TABLE warm_{rows} ({COLUMNS}) SERVER dune OPTIONS (execution_id '{eid}')")
    conn.execute("DROP TABLE IF EXISTS t")
    conn.execute(f"CREATE TABLE t AS SELECT * FROM warm_{rows}")
    emulator("settings", "POST", {"latency_ms": LATENCIES[-1]})

    def a():
        conn.execute("DROP TABLE IF EXISTS t")
        conn.execute(f"CREATE TABLE t AS SELECT * FROM cached_{rows}")

    out = []
    for _ in range(2):
        emulator("reset", "POST")
        out.append((median_time(a, runs=1, warm=False)[0], emulator("stats?brief=1")["datapoints_served"]))
    emulator("settings", "POST", {"latency_ms": 0})
    print(f"  A with the cache, {rows:,} rows at {LATENCIES[-1]} ms: {out[0][0]:.2f} s, then {out[1][0]:.2f} s", flush=True)
    return rows, out


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    mem = next((l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal")), "?")
    with connect() as c:
        pg = c.execute("SHOW server_version").fetchone()[0]
    return f"{os.cpu_count()} × {cpu}, {int(mem) // 1024 // 1024} GiB RAM, Linux {platform.release()}, PostgreSQL {pg}"


def report(times, memory, sequential, limit, polling, cached):
    ok = lambda cond: "met" if cond else "**not met**"
    first, zero, far = SIZES[0], LATENCIES[0], LATENCIES[-1]
    base = times[(first, zero)]
    per_m = lambda rows, ms, name: times[(rows, ms)][name] / (rows / 1e6)
    lines = [
        f"# dune_fdw benchmark, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {machine()}. Emulator and PostgreSQL on the same machine, over 127.0.0.1; the emulator delays every answer by the latency shown (`latency_ms`), as a far server would.",
        f"Result: synthetic query 9100001 (timestamptz, varchar, bigint, double, varbinary, uint256, boolean, a mostly-NULL varchar). Median of {RUNS} runs at {first:,} rows and {zero} ms, {POINT_RUNS} run elsewhere; each contender warmed once per size, then timed at every latency.",
        "",
        "- A: `CREATE TABLE t AS SELECT * FROM <typed foreign table>` (fetch_concurrency 4, the default)",
        "- B: `CREATE TABLE t AS SELECT * FROM dune_results(id)` (jsonb rows)",
        "- C: curl every CSV page to a file, then `COPY t FROM` it",
        "- D: dune-client `get_execution_results` paging, each page written by psycopg `COPY` as it arrives",
        "",
        "| rows | latency | A | B | C | D | A s per M rows | A / C | D / A |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (rows, ms), t in times.items():
        lines.append(
            f"| {rows:,} | {ms} ms | {t['A']:.2f} s | {t['B']:.2f} s | {t['C']:.2f} s | {t['D']:.2f} s "
            f"| {per_m(rows, ms, 'A'):.2f} s | {t['A'] / t['C']:.2f} | {t['D'] / t['A']:.1f} × |"
        )
    lines += [""] + [
        f"A with `fetch_concurrency {n}`{' (one page after the other)' if n == 1 else ''}, {first:,} rows: "
        + ", ".join(f"{ms} ms {s:.2f} s" for (k, ms), s in sequential.items() if k == n) + "."
        for n in (1, 16)
    ]
    cached_rows, ((first_s, first_dp), (second_s, second_dp)) = cached
    lines += [
        "",
        f"A with the result cache (server option `cache`), {cached_rows:,} rows at {far} ms: the first read "
        f"{first_s:.2f} s ({first_dp:,} datapoints billed), the second {second_s:.2f} s ({second_dp:,} datapoints).",
    ]
    a0, a_far = base["A"], times[(first, far)]["A"]
    worst_size = max(per_m(r, zero, "A") for r in SIZES) / per_m(first, zero, "A")
    a_vs_c = max(times[(r, zero)]["A"] / times[(r, zero)]["C"] for r in SIZES)
    d_far = min(times[(r, far)]["D"] / times[(r, far)]["A"] for r in SIZES)
    limit_time, limit_requests = limit
    status_calls, lag, runtime = polling
    lines += [
        "",
        "| measure | value | target | |",
        "|---|---|---|---|",
        f"| A at {far} ms vs A at {zero} ms ({first:,} rows) | {a_far / a0:.2f} × | ≤ 1.5 × | {ok(a_far <= 1.5 * a0)} |",
        f"| D vs A at {far} ms (every size) | A at least {d_far:.1f} × faster | ≥ 5 × | {ok(d_far >= 5)} |",
        f"| D vs A at {zero} ms, {first:,} rows | A {base['D'] / a0:.1f} × faster | ≥ 5 × | {ok(base['D'] / a0 >= 5)} |",
        f"| A per M rows, worst size vs {first:,} | {worst_size:.2f} × | ≤ 1.25 × | {ok(worst_size <= 1.25)} |",
        f"| A vs C (every size, {zero} ms) | at most {a_vs_c:.2f} × C | ≤ 1.0 × C | {ok(a_vs_c <= 1.0)} |",
        f"| B vs C, {first:,} rows | B = {base['B'] / base['C']:.2f} × C | ≤ 1.5 × C | {ok(base['B'] <= 1.5 * base['C'])} |",
    ]
    for rows, growth in memory.items():
        lines.append(f"| backend memory growth during A, {rows:,} rows | +{growth:.1f} MB (RssAnon peak) | ≤ 64 MB | {ok(growth <= 64)} |")
    lines += [
        f"| `SELECT * FROM <{SIZES[-1]:,}-row table> LIMIT 10` | {limit_time * 1000:.0f} ms, {limit_requests:.0f} results request(s) | 1 request, < 100 ms | {ok(limit_requests == 1 and limit_time < 0.1)} |",
        f"| polling a {runtime:.0f} s execution | {status_calls} status calls, returned {lag:.2f} s after it ended | ≤ 20 calls, ≤ max(10 %, 0.5 s) late | {ok(status_calls <= 20 and lag <= max(0.1 * runtime, 0.5))} |",
    ]
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    name = f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%dT%H%M}-{platform.node() or 'machine'}.md"
    with open(os.path.join(HERE, "results", name), "w") as f:
        f.write(text)
    print(f"written to bench/results/{name}")


if __name__ == "__main__":
    main()
