#!/usr/bin/env bash
# The demo: builds and installs dune_fdw, starts a scratch PostgreSQL 15 cluster and the Dune
# API emulator, and runs the documented flows (demo/tour.sql): execute -> status -> results,
# latest results, and a join of Dune rows with a local table.
#
#   scripts/demo.sh                         on the embedded emulator (no key, no network)
#   DUNE_API_KEY=... scripts/demo.sh        on the real Dune API (spends credits)
#   scripts/demo.sh --keep                  leave the cluster running and say how to connect
set -euo pipefail
source "$(dirname "$0")/lib.sh"
KEEP=0
[ "${1:-}" = "--keep" ] && KEEP=1

setup
install_extension
TMP="$(mktemp -d /tmp/dune_fdw_demo.XXXXXX)"
chmod 755 "$TMP"
cleanup() {
    if [ "$KEEP" = 1 ]; then return; fi
    stop_emulator
    stop_cluster
    rm -rf "$TMP"
}
trap cleanup EXIT

start_cluster "$TMP/pg"
USE_EMULATOR=false
if [ -n "${DUNE_API_KEY:-}" ]; then
    say "using the real Dune API with the key in DUNE_API_KEY"
    export DUNE_KEY="$DUNE_API_KEY"
else
    USE_EMULATOR=true
    start_emulator
    say "using the Dune API emulator at $DUNE_API_URL"
    export DUNE_KEY="emulator-key"
fi

# The key travels through the environment, never on a command line or in the echo.
psql -X -q -v ON_ERROR_STOP=1 -v use_emulator="$USE_EMULATOR" -d postgres <<'SQL'
CREATE EXTENSION dune_fdw;
\getenv key DUNE_KEY
\if :use_emulator
\getenv api_url DUNE_API_URL
ALTER SERVER dune OPTIONS (SET api_url :'api_url');
\endif
CREATE USER MAPPING FOR CURRENT_USER SERVER dune OPTIONS (api_key :'key');
SQL

say "the tour: each statement, then what Dune returned"
psql -X -e -v ON_ERROR_STOP=1 -d postgres -f "$ROOT/demo/tour.sql"

echo
if [ "$KEEP" = 1 ]; then
    say "the cluster is still running, with dune_fdw and a key: open psql on it with"
    echo "    psql -h $PGHOST -p $PGPORT -U postgres postgres"
    echo "and try, say:  \\df+ dune_*    SELECT * FROM dune_latest(1252207) LIMIT 3;"
    echo "then follow docs/recipes.md. When done, stop it and remove it with:"
    echo "    $( [ "$(id -u)" = 0 ] && echo "runuser -u postgres -- " )$PG_BIN/pg_ctl -D $PGDATA_DIR stop${EMULATOR_PID:+ && kill $EMULATOR_PID} && rm -rf $TMP"
else
    say "done: the scratch cluster and the emulator are stopped and removed."
    echo "To explore in psql, run  scripts/demo.sh --keep : it leaves this cluster running and"
    echo "prints the psql command to open it (then docs/recipes.md has the next steps)."
fi

