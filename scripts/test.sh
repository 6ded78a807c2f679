#!/usr/bin/env bash
# The test command: starts the throwaway PostgreSQL when DATABASE_URL is unset, builds
# everything (the tests run the built binaries), then runs the whole suite.
#   scripts/test.sh                 all tests
#   scripts/test.sh --filter Schema extra arguments go to `swift test`
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [ -z "${DATABASE_URL:-}" ]; then
    DATABASE_URL=$(scripts/db.sh start)
    export DATABASE_URL
fi
echo "test.sh: DATABASE_URL=$DATABASE_URL" >&2

# deploy/ is checked with the tools that run it (README, Operations kit): promtool from
# Debian's prometheus package, systemd-analyze from systemd; installed when missing.
install_missing() { # command package
    command -v "$1" >/dev/null && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "test.sh: installing $2 for $1" >&2
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2"; } >/dev/null 2>&1 || true
    fi
    command -v "$1" >/dev/null
}
if install_missing promtool prometheus; then
    promtool check rules deploy/prometheus/leadsync-rules.yml
    promtool test rules deploy/prometheus/leadsync-rules.test.yml
else
    echo "test.sh: SKIPPED the Prometheus rules: promtool is missing and could not be installed (apt-get install prometheus)" >&2
fi
# The console's browser test (Tests/LeadSyncConsoleTests/BrowserTests.swift) drives headless
# Chromium; without it that test says it skipped.
install_missing chromium chromium ||
    echo "test.sh: chromium is missing and could not be installed: the console's browser test will say it skipped" >&2
install_missing systemd-analyze systemd ||
    echo "test.sh: systemd-analyze is missing and could not be installed: the unit's test will say it skipped" >&2
# PoolerTests run a PgBouncer of their own (README, Behind a connection pooler). Debian
# puts it in /usr/sbin, which a non-root PATH may lack.
PATH=$PATH:/usr/sbin install_missing pgbouncer pgbouncer ||
    echo "test.sh: pgbouncer is missing and could not be installed: PoolerTests will say they skipped" >&2

swift build --build-tests
swift test --skip-build "$@"
