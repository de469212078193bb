#!/usr/bin/env bash
# The whole test suite: lint, the client and emulator (cargo test), the SQL surface (pg_regress
# golden files against a scratch cluster and the emulator), and the official Python SDK
# against the emulator. Installs what it needs first. No test reaches the internet.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
setup || exit 1
cd "$ROOT" || exit 1

PASSED=0
FAILED=0
FAILED_STEPS=()
TMP="$(mktemp -d /tmp/dune_fdw_test.XXXXXX)"
chmod 755 "$TMP"
cleanup() { stop_emulator; stop_cluster; rm -rf "$TMP"; }
trap cleanup EXIT

VENV="$ROOT/target/test-venv"
# The official Python SDK (fidelity test) and psycopg (load test), from PyPI.
ensure_venv() {
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" || return 1
    "$VENV/bin/python" -c 'import dune_client, psycopg, pandas' 2>/dev/null || "$VENV/bin/pip" install --quiet dune-client 'psycopg[binary]' pandas
}

count() { # count PASSED FAILED STEP
    PASSED=$((PASSED + $1))
    FAILED=$((FAILED + $2))
    [ "$2" -gt 0 ] && FAILED_STEPS+=("$3")
    return 0
}

lint() {
    say "cargo fmt --check and cargo clippy -D warnings"
    cargo fmt --all -- --check && cargo clippy --quiet --workspace --all-targets -- -D warnings
}

cargo_tests() {
    say "cargo test (dune-client, dune-emulator)"
    local log="$TMP/cargo-test.log"
    cargo test --quiet -p dune-client -p dune-emulator 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    local p f
    p=$(grep -Eo '[0-9]+ passed' "$log" | awk '{s+=$1} END {print s+0}')
    f=$(grep -Eo '[0-9]+ failed' "$log" | awk '{s+=$1} END {print s+0}')
    [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
    count "$p" "$f" "cargo test"
}

regress() {
    say "pg_regress: tests/pg_regress against a scratch cluster and the emulator"
    install_extension || { count 0 1 "install"; return; }
    # pg_cron for the scheduling recipe of the docs, its jobs in background workers
    start_cluster "$TMP/pg" "shared_preload_libraries = 'pg_cron'
cron.database_name = 'dune_fdw_docs'
cron.use_background_workers = on"
    as_pg "$PG_BIN/createdb" -h "$PGHOST" -p "$PGPORT" -U postgres dune_fdw_docs
    start_emulator --pending-ms 50 --execution-ms 250
    local out="$ROOT/target/pg_regress"
    rm -rf "$out" && mkdir -p "$out"
    "$($PG_CONFIG --pgxs | xargs dirname)/../test/regress/pg_regress" \
        --host="$PGHOST" --port="$PGPORT" --user=postgres --dbname=dune_fdw_regress \
        --inputdir="$ROOT/tests/pg_regress" --outputdir="$out" --bindir="$PG_BIN" \
        --schedule="$ROOT/tests/pg_regress/schedule" 2>&1 | tee "$TMP/regress.log"
    [ -f "$out/regression.diffs" ] && cat "$out/regression.diffs"
    local total failed
    total=$(grep -Ec ' \.\.\. +(ok|FAILED|failed)' "$TMP/regress.log" || true)
    failed=$(grep -Ec ' \.\.\. +(FAILED|failed)' "$TMP/regress.log" || true)
    if grep -Eq 'terminated by signal|PANIC' "$TMP/pg/postgres.log"; then
        say "the server log shows a crash:"; grep -E 'terminated by signal|PANIC' "$TMP/pg/postgres.log"
        failed=$((failed + 1))
    fi
    count $((total - failed)) "$failed" "pg_regress"
    # 16 sessions for 20 s mixing functions and foreign scans, with injected 429s: no errors,
    # flat backend memory, no helper thread or socket left behind.
    python_suite load tests/load/load.py
    python_suite "reliability faults" tests/reliability/faults.py
    python_suite "reliability interrupts" tests/reliability/interrupts.py
    python_suite "reliability secrets" tests/reliability/secrets.py
    python_suite "ux progress" tests/ux/progress.py
    # ALTER EXTENSION UPDATE starts from the first release's install script, kept in tests/.
    install_file tests/packaging/dune_fdw--0.1.0.sql "$($PG_CONFIG --sharedir)/extension"
    python_suite "packaging upgrade" tests/packaging/upgrade.py
    python_suite "packaging dump-restore" tests/packaging/dump_restore.py
    python_suite "docs blocks" tests/docs/docs_blocks.py
    if grep -Eq 'terminated by signal|PANIC' "$TMP/pg/postgres.log"; then
        say "the server log shows a crash after the Python suites:"; grep -E 'terminated by signal|PANIC' "$TMP/pg/postgres.log"
        count 0 1 "server log"
    fi
    stop_emulator
    stop_cluster
}

# python_suite NAME SCRIPT: runs a Python test against the regress cluster and the emulator; it
# ends by printing "NAME: N passed, M failed".
python_suite() {
    say "$1 ($2)"
    ensure_venv || { count 0 1 "$1 (venv)"; return; }
    local log="$TMP/python-suite.log"
    PGDATABASE=dune_fdw_regress PGLOG="$TMP/pg/postgres.log" PSQL="$PG_BIN/psql" PG_BIN="$PG_BIN" SESSIONS=16 SECONDS=20 "$VENV/bin/python" "$2" 2>&1 | tee "$log"
    local p f
    p=$(sed -n "s/^$1: \([0-9]*\) passed.*/\1/p" "$log")
    f=$(sed -n "s/^$1: [0-9]* passed, \([0-9]*\) failed.*/\1/p" "$log")
    count "${p:-0}" "${f:-1}" "$1"
}


sdk_fidelity() {
    say "the official Python SDK (dune-client from PyPI) against the emulator"
    ensure_venv || { count 0 1 "sdk fidelity (venv)"; return; }
    local venv="$VENV"

    cargo build --quiet -p dune-emulator
    local log="$TMP/sdk.log"
    DUNE_EMULATOR_BIN="$ROOT/target/debug/dune-emulator" "$venv/bin/python" tests/sdk/test_dune_client_fidelity.py 2>&1 | tee "$log"
    local p f
    p=$(sed -n 's/^sdk fidelity: \([0-9]*\) passed.*/\1/p' "$log")
    f=$(sed -n 's/^sdk fidelity: [0-9]* passed, \([0-9]*\) failed.*/\1/p' "$log")
    count "${p:-0}" "${f:-1}" "sdk fidelity"
}

if lint; then count 1 0 lint; else count 0 1 lint; fi
cargo_tests
regress
sdk_fidelity

echo
[ ${#FAILED_STEPS[@]} -gt 0 ] && echo "failed steps: ${FAILED_STEPS[*]}"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
