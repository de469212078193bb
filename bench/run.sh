#!/usr/bin/env bash
# The benchmark (issue 5): dune_fdw against what users do today, on one machine, against the
# emulator on 127.0.0.1. Installs what it needs (including the Python SDK and psycopg in a
# venv), builds the extension in release mode, prints the table and writes it to
# bench/results/. Not part of the test suite.
#
#   bench/run.sh                 1,000,000 rows for the timings, 10,000,000 for memory
#   ROWS=200000 BIG_ROWS=1000000 RUNS=1 bench/run.sh     a quicker run
#   LATENCIES=50,150 (default)   latency axis: A and D with each request delayed (ms)
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
setup
install_extension release
VENV="$ROOT/target/bench-venv"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -c 'import dune_client, psycopg' 2>/dev/null || "$VENV/bin/pip" install --quiet dune-client 'psycopg[binary]'

TMP="$(mktemp -d /tmp/dune_fdw_bench.XXXXXX)"
chmod 755 "$TMP"
cleanup() { stop_emulator; stop_cluster; rm -rf "$TMP"; }
trap cleanup EXIT
start_cluster "$TMP/pg"
EMULATOR_PROFILE=release start_emulator --pending-ms 20 --execution-ms 100
export BENCH_TMP="$TMP"
"$VENV/bin/python" "$ROOT/bench/bench.py"
