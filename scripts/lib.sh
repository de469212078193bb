# Shared by scripts/demo.sh, scripts/test.sh and bench/run.sh: installs what is missing
# (idempotent, quick the second time), builds and installs the extension into the system's
# PostgreSQL 15, and starts/stops a scratch cluster and the Dune API emulator.
# shellcheck shell=bash

PG_MAJOR=15
PG_BIN="/usr/lib/postgresql/$PG_MAJOR/bin"
PG_CONFIG="$PG_BIN/pg_config"
PGRX_VERSION=0.18.1
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi

# Runs a command as the owner of the scratch cluster: postgres when we are root (Postgres
# refuses to run as root), ourselves otherwise.
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

ensure_packages() {
    # Each prerequisite is detected by the file that is actually used: a machine may have
    # postgresql-15 (which ships pg_config and pg_regress) without its server headers.
    local missing=()
    [ -x "$PG_BIN/postgres" ] && [ -x "$PG_BIN/initdb" ] || missing+=(postgresql-$PG_MAJOR)
    [ -x "$PG_CONFIG" ] || missing+=(postgresql-client-$PG_MAJOR)
    local incdir=/usr/include/postgresql/$PG_MAJOR/server
    [ -x "$PG_CONFIG" ] && incdir="$("$PG_CONFIG" --includedir-server)"
    [ -e "$incdir/postgres.h" ] || missing+=(postgresql-server-dev-$PG_MAJOR)
    [ -e "/usr/lib/postgresql/$PG_MAJOR/lib/pgxs/src/test/regress/pg_regress" ] || missing+=(postgresql-server-dev-$PG_MAJOR)
    command -v clang >/dev/null || missing+=(clang)
    # bindgen loads libclang itself (libclang-cpp is another library)
    compgen -G '/usr/lib/llvm-*/lib/libclang.so*' >/dev/null || compgen -G '/usr/lib/*/libclang-[0-9]*.so*' >/dev/null \
        || missing+=(libclang-dev)
    command -v python3 >/dev/null || missing+=(python3)
    python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
    command -v pkg-config >/dev/null || missing+=(pkg-config)
    command -v curl >/dev/null || missing+=(curl)
    # pg_cron, for the scheduling recipe of docs/recipes.md (tested by scripts/test.sh)
    [ -e /usr/lib/postgresql/$PG_MAJOR/lib/pg_cron.so ] || missing+=(postgresql-$PG_MAJOR-cron)
    if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null; then die "run as root or install sudo"; fi
    if [ ${#missing[@]} -gt 0 ]; then
        mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
        say "installing Debian packages: ${missing[*]}"
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" build-essential ca-certificates >/dev/null
    fi
    # The Debian package starts a default cluster on port 5432; nothing here uses it.
}

ensure_cargo_pgrx() {
    if ! cargo pgrx --version 2>/dev/null | grep -q " $PGRX_VERSION"; then
        say "installing cargo-pgrx $PGRX_VERSION (a few minutes, once)"
        cargo install cargo-pgrx --version "$PGRX_VERSION" --locked --quiet
    fi
    if ! grep -qs "pg$PG_MAJOR" "${PGRX_HOME:-$HOME/.pgrx}/config.toml"; then
        say "cargo pgrx init --pg$PG_MAJOR $PG_CONFIG"
        cargo pgrx init --pg$PG_MAJOR "$PG_CONFIG" >/dev/null
    fi
}

setup() {
    command -v cargo >/dev/null || die "the Rust toolchain (cargo) is needed: https://rustup.rs"
    ensure_packages
    ensure_cargo_pgrx
}

# Builds the extension and installs it into the system's PostgreSQL 15.
install_extension() {
    local profile_flag=()
    [ "${1:-}" = release ] && profile_flag=(--release)
    say "building and installing the extension (${1:-debug})"
    local sudo_flag=()
    [ -w "$($PG_CONFIG --pkglibdir)" ] || sudo_flag=(--sudo)
    (cd "$ROOT" && cargo pgrx install -p dune_fdw --pg-config "$PG_CONFIG" "${profile_flag[@]}" "${sudo_flag[@]}" >/dev/null)
}

# install_file FILE DIR: copies a file into a system directory (with sudo when needed).
install_file() {
    $SUDO install -m 644 "$1" "$2/"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_cluster DIR [CONF]: initdb and start a scratch cluster in DIR, listening on a Unix
# socket in DIR and on 127.0.0.1:<free port>, with CONF appended to postgresql.conf. Sets
# PGHOST, PGPORT, PGUSER, PGDATA_DIR.
start_cluster() {
    local dir="$1"
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
    PGDATA_DIR="$dir/data"
    as_pg "$PG_BIN/initdb" -D "$PGDATA_DIR" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    PGPORT="$(free_port)"
    cat >>"$PGDATA_DIR/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$dir'
fsync = off
logging_collector = off
log_min_messages = warning
${2:-}
CONF
    # RUST_BACKTRACE in the postmaster's environment would add Rust backtraces to errors.
    as_pg env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$dir/postgres.log" -w start >/dev/null \
        || { cat "$dir/postgres.log" >&2; die "PostgreSQL did not start"; }
    export PGHOST="$dir" PGPORT PGUSER=postgres
}

stop_cluster() {
    [ -n "${PGDATA_DIR:-}" ] && [ -d "$PGDATA_DIR" ] && as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null 2>&1 || true
}

# start_emulator [args...]: builds and starts the emulator on a free port (a release build when
# EMULATOR_PROFILE=release, as the benchmark wants). Sets DUNE_API_URL and EMULATOR_PID.
start_emulator() {
    local profile="${EMULATOR_PROFILE:-debug}" flag=()
    [ "$profile" = release ] && flag=(--release)
    (cd "$ROOT" && cargo build --quiet "${flag[@]}" -p dune-emulator)
    local out
    out="$(mktemp)"
    "$ROOT/target/$profile/dune-emulator" --port 0 "$@" >"$out" 2>&1 &
    EMULATOR_PID=$!
    for _ in $(seq 1 100); do
        grep -q "^listening on" "$out" && break
        sleep 0.05
    done
    DUNE_API_URL="$(sed -n 's/^listening on //p' "$out")"
    rm -f "$out"
    [ -n "$DUNE_API_URL" ] || die "the emulator did not start"
    export DUNE_API_URL
}

stop_emulator() {
    [ -n "${EMULATOR_PID:-}" ] && kill "$EMULATOR_PID" 2>/dev/null && wait "$EMULATOR_PID" 2>/dev/null || true
}
