#!/usr/bin/env bash
# A throwaway PostgreSQL for development, tests and benchmarks.
#
#   scripts/db.sh start    install (apt-get) if missing, initdb once, start; prints DATABASE_URL
#   scripts/db.sh stop     stop the server (data is kept)
#   scripts/db.sh status   say whether it runs
#   scripts/db.sh url      print DATABASE_URL
#   scripts/db.sh destroy  stop and delete the data folder
#
# Data lives in .pgdata/ (git-ignored) beside this repository's root, owned by the
# `postgres` user because initdb refuses root. Tuned for speed, not durability
# (fsync off): never point it at data you care about.
# LEADSYNC_PG_PORT picks the port (default 25432: below the ephemeral range, so no outgoing
# connection can be holding it); LEADSYNC_PG_DIR the data folder.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
port=${LEADSYNC_PG_PORT:-25432}
data=${LEADSYNC_PG_DIR:-$root/.pgdata}
# The server runs as `postgres`; when it cannot reach this checkout (e.g. under a
# mode-700 home), the data goes to a folder of its own under /tmp instead.
if [ -z "${LEADSYNC_PG_DIR:-}" ] && [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1 \
    && ! runuser -u postgres -- test -x "$root" 2>/dev/null; then
    data=/tmp/leadsync-pgdata-$(printf '%s' "$root" | md5sum | cut -c1-12)
fi
db=leadsync
url="postgres://postgres@127.0.0.1:$port/$db"

die() { echo "db.sh: $*" >&2; exit 1; }

pg_bindir() {
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [ -x "$d/initdb" ] && { echo "$d"; return 0; }
    done
    return 1
}

as_postgres() {
    if [ "$(id -u)" = 0 ]; then
        # runuser keeps no controlling terminal and needs no password.
        runuser -u postgres -- "$@"
    elif [ "$(id -un)" = postgres ]; then
        "$@"
    else
        sudo -n -u postgres -- "$@"
    fi
}

install_postgres() {
    pg_bindir >/dev/null && id postgres >/dev/null 2>&1 && return 0
    [ "$(id -u)" = 0 ] || die "PostgreSQL is not installed and we are not root: apt-get install postgresql"
    echo "db.sh: installing PostgreSQL from Debian's packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    # The package may start its own cluster on 5432; we run our own and leave that one alone.
    pg_bindir >/dev/null || die "apt-get install postgresql did not provide initdb"
}

running() {
    local bin
    bin=$(pg_bindir) || return 1
    [ -f "$data/PG_VERSION" ] || return 1
    as_postgres "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1
}

start() {
    install_postgres
    local bin
    bin=$(pg_bindir)
    if [ ! -f "$data/PG_VERSION" ]; then
        mkdir -p "$data"
        chown postgres: "$data" 2>/dev/null || true
        chmod 700 "$data"
        as_postgres "$bin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --no-locale >/dev/null \
            || die "initdb failed for $data (can the postgres user reach it?)"
        cat >>"$data/postgresql.conf" <<EOF
# LeadSync throwaway server: fast, not durable.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$data'
max_connections = 300
shared_buffers = 512MB
fsync = off
synchronous_commit = off
full_page_writes = off
max_wal_size = 4GB
logging_collector = off
EOF
    fi
    if ! running; then
        # The port is given on every start, so an older data folder follows LEADSYNC_PG_PORT.
        as_postgres "$bin/pg_ctl" -D "$data" -l "$data/server.log" -o "-p $port" -w -t 60 start >/dev/null \
            || { tail -20 "$data/server.log" >&2 || true; die "PostgreSQL did not start (log: $data/server.log)"; }
    fi
    if ! as_postgres "$bin/psql" -h "$data" -p "$port" -U postgres -Atqc "select 1 from pg_database where datname = '$db'" postgres | grep -q 1; then
        as_postgres "$bin/createdb" -h "$data" -p "$port" -U postgres "$db"
    fi
    echo "$url"
}

stop() {
    local bin
    bin=$(pg_bindir) || return 0
    if running; then
        as_postgres "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
    fi
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status)
    if running; then echo "running on port $port ($url)"; else echo "stopped"; exit 3; fi
    ;;
url) echo "$url" ;;
destroy)
    stop
    rm -rf "$data"
    ;;
*)
    echo "usage: scripts/db.sh start|stop|status|url|destroy" >&2
    exit 2
    ;;
esac
