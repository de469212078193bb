#!/usr/bin/env bash
# The test suite: lint, the pure crates (cargo test), the shape of the tree, the SQL surface
# (pg_regress golden files against a scratch cluster and the emulator), the Python suites, and
# the official Python SDK against the emulator. Installs what it needs first. No test reaches
# the internet.
#
#   scripts/test.sh                 everything (what CI runs)
#   scripts/test.sh pushdown types  only these: golden tests (tests/pg_regress/sql/<name>.sql,
#                                   each after the shared setup only), Python suites
#                                   (faults, interrupts, ...) or steps (lint, cargo, structure,
#                                   sdk); `scripts/test.sh list` names them
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT" || exit 1

# Python suites: short name, name, script (each ends with "<name>: N passed, M failed").
SUITES=(
    "load:load:tests/load/load.py"
    "faults:reliability faults:tests/reliability/faults.py"
    "interrupts:reliability interrupts:tests/reliability/interrupts.py"
    "insert-faults:reliability insert faults:tests/reliability/insert_faults.py"
    "secrets:reliability secrets:tests/reliability/secrets.py"
    "progress:ux progress:tests/ux/progress.py"
    "upgrade:packaging upgrade:tests/packaging/upgrade.py"
    "dump-restore:packaging dump-restore:tests/packaging/dump_restore.py"
    "docs:docs blocks:tests/docs/docs_blocks.py"
    "differential:pushdown differential:tests/pushdown/differential.py"
    "credit-figures:credits figures:tests/credits/credits.py"
    "dune-tables:dune tables differential:tests/pushdown/dune_tables.py"
)
STEPS=(lint cargo structure sdk)
REGRESS_TESTS=($(sed -n 's/^test: //p' tests/pg_regress/schedule))

if [ "${1:-}" = list ]; then
    echo "steps: ${STEPS[*]}"
    echo "golden tests: ${REGRESS_TESTS[*]}"
    printf 'suites:'; for s in "${SUITES[@]}"; do printf ' %s' "${s%%:*}"; done; echo
    exit 0
fi

PASSED=0
FAILED=0
FAILED_STEPS=()
TMP="$(mktemp -d /tmp/dune_fdw_test.XXXXXX)"
chmod 755 "$TMP"
cleanup() { stop_emulator; stop_cluster; rm -rf "$TMP"; }
trap cleanup EXIT
VENV="$ROOT/target/test-venv"

# The official Python SDK (fidelity test) and psycopg (the suites), from PyPI.
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

# count_log NAME LOG: adds the "NAME: N passed, M failed" line of LOG (a missing line fails).
count_log() {
    local p f
    p=$(sed -n "s/^$1: \([0-9]*\) passed.*/\1/p" "$2")
    f=$(sed -n "s/^$1: [0-9]* passed, \([0-9]*\) failed.*/\1/p" "$2")
    count "${p:-0}" "${f:-1}" "$1"
}

lint() {
    say "cargo fmt --check and cargo clippy -D warnings"
    if cargo fmt --all -- --check && cargo clippy --quiet --workspace --all-targets -- -D warnings; then
        count 1 0 lint
    else
        count 0 1 lint
    fi
}

cargo_tests() {
    say "cargo test (dune-api, pg-format, dune-emulator)"
    local log="$TMP/cargo-test.log"
    cargo test --quiet -p dune-api -p pg-format -p dune-emulator 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    local p f
    p=$(grep -Eo '[0-9]+ passed' "$log" | awk '{s+=$1} END {print s+0}')
    f=$(grep -Eo '[0-9]+ failed' "$log" | awk '{s+=$1} END {print s+0}')
    [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
    count "$p" "$f" "cargo test"
}

structure() {
    say "the shape of the tree (tests/structure/structure.py)"
    python3 tests/structure/structure.py 2>&1 | tee "$TMP/structure.log"
    count_log structure "$TMP/structure.log"
}

# Builds and installs the extension, starts the scratch cluster (pg_cron preloaded, for the
# scheduling recipe of the docs) and the emulator.
start_services() {
    install_extension || { count 0 1 "install"; return 1; }
    start_cluster "$TMP/pg" "shared_preload_libraries = 'pg_cron'
cron.database_name = 'dune_fdw_docs'
cron.use_background_workers = on"
    as_pg "$PG_BIN/createdb" -h "$PGHOST" -p "$PGPORT" -U postgres dune_fdw_docs
    start_emulator --pending-ms 50 --execution-ms 250
    # ALTER EXTENSION UPDATE starts from the first release's install script, kept in tests/.
    install_file tests/packaging/dune_fdw--0.1.0.sql "$($PG_CONFIG --sharedir)/extension"
}

# A crash in the server log fails the run.
check_server_log() {
    if grep -Eq 'terminated by signal|PANIC' "$TMP/pg/postgres.log"; then
        say "the server log shows a crash $1:"; grep -E 'terminated by signal|PANIC' "$TMP/pg/postgres.log"
        count 0 1 "server log"
    fi
}

# regress all|TEST...: the golden SQL tests (all: the schedule's). Each runs in a database of
# its own made by the shared setup (tests/pg_regress/sql/setup.sql) and nothing else, so that
# any one of them runs alone as `scripts/test.sh <name>`; then the database is made once more
# by the setup alone, for the Python suites (`regress` with no test does only that).
regress() {
    say "pg_regress: tests/pg_regress against a scratch cluster and the emulator"
    local out="$ROOT/target/pg_regress" tests=() t total=0 failed=0
    [ "${1:-}" = all ] && set -- "${REGRESS_TESTS[@]}"
    for t in "$@"; do [ "$t" = setup ] || tests+=("$t"); done
    rm -rf "$out" && mkdir -p "$out"
    : > "$TMP/regress.log"
    for t in "${tests[@]}" ""; do
        local dir="$out/${t:-setup}" which=(setup $t)
        mkdir -p "$dir"
        "$($PG_CONFIG --pgxs | xargs dirname)/../test/regress/pg_regress" \
            --host="$PGHOST" --port="$PGPORT" --user=postgres --dbname=dune_fdw_regress \
            --inputdir="$ROOT/tests/pg_regress" --outputdir="$dir" --bindir="$PG_BIN" \
            "${which[@]}" > "$dir/log" 2>&1
        if [ -n "$t" ]; then
            grep -E "^test $t |^(not )?ok [0-9]+ +[-+] $t " "$dir/log" | tee -a "$TMP/regress.log"
            total=$((total + 1))
            if ! grep -Eq "^test $t +\.\.\. +ok|^ok [0-9]+ +[-+] $t " "$dir/log" \
                || ! grep -Eq "^test setup +\.\.\. +ok|^ok [0-9]+ +[-+] setup " "$dir/log"; then
                failed=$((failed + 1))
                [ -f "$dir/regression.diffs" ] && cat "$dir/regression.diffs"
            fi
        elif ! grep -Eq "^test setup +\.\.\. +ok|^ok [0-9]+ +[-+] setup " "$dir/log"; then
            cat "$dir/log" "$dir/regression.diffs" 2>/dev/null
            failed=$((failed + 1))
        fi
    done
    count $((total - failed > 0 ? total - failed : 0)) "$failed" "pg_regress"
    check_server_log "after pg_regress"
}

# python_suite NAME SCRIPT: a Python suite against the regress cluster and the emulator.
python_suite() {
    say "$1 ($2)"
    ensure_venv || { count 0 1 "$1 (venv)"; return; }
    local log="$TMP/python-suite.log"
    PGDATABASE=dune_fdw_regress PGLOG="$TMP/pg/postgres.log" PSQL="$PG_BIN/psql" PG_BIN="$PG_BIN" SESSIONS=16 SECONDS=20 "$VENV/bin/python" "$2" 2>&1 | tee "$log"
    count_log "$1" "$log"
}

sdk_fidelity() {
    say "the official Python SDK (dune-client from PyPI) against the emulator"
    ensure_venv || { count 0 1 "sdk fidelity (venv)"; return; }
    cargo build --quiet -p dune-emulator
    DUNE_EMULATOR_BIN="$ROOT/target/debug/dune-emulator" "$VENV/bin/python" tests/sdk/test_dune_client_fidelity.py 2>&1 | tee "$TMP/sdk.log"
    count_log "sdk fidelity" "$TMP/sdk.log"
}

# Sorts the names asked for into steps, golden tests and suites; an unknown name fails.
WANT_STEPS=() WANT_REGRESS=() WANT_SUITES=()
for name in "$@"; do
    found=""
    for s in "${STEPS[@]}"; do [ "$name" = "$s" ] && WANT_STEPS+=("$s") && found=1; done
    for t in "${REGRESS_TESTS[@]}"; do [ "$name" = "$t" ] && WANT_REGRESS+=("$t") && found=1; done
    for s in "${SUITES[@]}"; do [ "$name" = "${s%%:*}" ] && WANT_SUITES+=("$s") && found=1; done
    [ -n "$found" ] || die "no test or step called \"$name\" (scripts/test.sh list names them)"
done
if [ $# -eq 0 ]; then
    WANT_STEPS=("${STEPS[@]}") WANT_SUITES=("${SUITES[@]}") WANT_REGRESS=(all)
fi

setup || exit 1
wants() { local s; for s in "${WANT_STEPS[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }
wants lint && lint
wants cargo && cargo_tests
wants structure && structure
if [ ${#WANT_REGRESS[@]} -gt 0 ] || [ ${#WANT_SUITES[@]} -gt 0 ]; then
    if start_services; then
        # the suites need the database the golden test setup makes
        regress "${WANT_REGRESS[@]}"
        for s in "${WANT_SUITES[@]}"; do
            s="${s#*:}"
            python_suite "${s%%:*}" "${s#*:}"
        done
        check_server_log "after the Python suites"
        stop_emulator
        stop_cluster
    fi
fi
wants sdk && sdk_fidelity

echo
[ ${#FAILED_STEPS[@]} -gt 0 ] && echo "failed steps: ${FAILED_STEPS[*]}"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
