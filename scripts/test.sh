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

swift build --build-tests
swift test --skip-build "$@"
