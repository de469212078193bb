#!/usr/bin/env bash
# The benchmark (issue 5): dune_fdw against what users do today, on one machine, against the
# emulator on 127.0.0.1. Installs what it needs (including the Python SDK and psycopg in a
# venv), builds the extension in release mode, prints the table and writes it to
# bench/results/. Not part of the test suite.
#
#   bench/run.sh                 A, B, C and D at 1M, 3M and 10M rows × 0, 50 and 150 ms
#   SIZES=200000,600000 LATENCIES=0,150 RUNS=1 bench/run.sh     a quicker run
#   PAGE_CACHE_MB=8192 (default) what the emulator keeps of the pages it served
#   PARTS=writes                 only the writes (bench/writes.py: INSERT into a Dune table vs
#                                dune-client's insert_data, WRITE_ROWS=1000000, LATENCIES=0,150)
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
# one malloc arena: the emulator answers on a thread per connection, and with an arena each it
# held 20 GB for an 8 GB page cache at 10,000,000 rows
MALLOC_ARENA_MAX=1 EMULATOR_PROFILE=release start_emulator --pending-ms 20 --execution-ms 100 \
  --page-cache-mb "${PAGE_CACHE_MB:-8192}"
export BENCH_TMP="$TMP"
PARTS="${PARTS:-reads,writes}"
if [[ ",$PARTS," == *",reads,"* ]]; then "$VENV/bin/python" "$ROOT/bench/bench.py"; fi
if [[ ",$PARTS," == *",writes,"* ]]; then "$VENV/bin/python" "$ROOT/bench/writes.py"; fi
