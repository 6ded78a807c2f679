#!/usr/bin/env bash
# The one-command demo: from a fresh clone, builds LeadSync, starts the throwaway
# PostgreSQL and the Uservox simulator, migrates a database of its own, inserts a
# realistic sample with plain SQL (a few thousand leads over five projects, with bad
# phones, duplicates, an unknown process, an inactive project and one without a token),
# runs the worker until everything ready is sent, and prints `leadsync report` and
# `leadsync invalid`.
#
#   scripts/demo.sh              build, then run
#   scripts/demo.sh --no-build   reuse .build/debug
#
# The demo database (LEADSYNC_DEMO_DB, default leadsync_demo) is dropped and created
# again on every run, and kept afterwards so you can look around; the simulator is
# stopped when the script ends.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
demo_db=${LEADSYNC_DEMO_DB:-leadsync_demo}
build=1
for arg in "$@"; do
    case "$arg" in
    --no-build) build=0 ;;
    -h | --help)
        sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "demo.sh: unknown argument $arg (try --help)" >&2
        exit 2
        ;;
    esac
done

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
    say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
    say() { printf '\n== %s\n' "$*"; }
fi
die() { echo "demo.sh: $*" >&2; exit 1; }

if [ "$build" = 1 ]; then
    say "Building leadsync and uservox-sim"
    swift build --product leadsync
    swift build --product uservox-sim
fi
bin="$root/.build/debug"
[ -x "$bin/leadsync" ] && [ -x "$bin/uservox-sim" ] || die "no built binaries in $bin (run without --no-build)"

say "Starting the throwaway PostgreSQL"
server_url=$(scripts/db.sh start)
psql_bin=$(command -v psql || ls -d /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -1)
[ -n "$psql_bin" ] || die "psql not found"
sql() { "$psql_bin" -X -q -v ON_ERROR_STOP=1 "$@"; }
sql "$server_url" -c "DROP DATABASE IF EXISTS $demo_db WITH (FORCE)" -c "CREATE DATABASE $demo_db"
export DATABASE_URL="${server_url%/*}/$demo_db"
echo "DATABASE_URL=$DATABASE_URL"

work=$(mktemp -d "${TMPDIR:-/tmp}/leadsync-demo.XXXXXX")
sim_pid=""
cleanup() {
    if [ -n "$sim_pid" ] && kill -0 "$sim_pid" 2>/dev/null; then
        kill "$sim_pid" 2>/dev/null || true
        wait "$sim_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

say "Starting uservox-sim"
# umbrella is inactive at Uservox (403); hooli has leads but no token in the tokens file.
cat >"$work/sim.json" <<'EOF'
{
  "projects": {
    "acme":     {"token": "tok-acme",     "processes": ["onboarding", "renewal"]},
    "globex":   {"token": "tok-globex",   "processes": ["welcome"]},
    "initech":  {"token": "tok-initech"},
    "umbrella": {"token": "tok-umbrella", "active": false}
  }
}
EOF
"$bin/uservox-sim" --port 0 --config "$work/sim.json" >"$work/sim.out" 2>"$work/sim.err" &
sim_pid=$!
base_url=""
for _ in $(seq 1 200); do
    base_url=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$work/sim.out" | head -1)
    [ -n "$base_url" ] && break
    kill -0 "$sim_pid" 2>/dev/null || die "uservox-sim exited: $(cat "$work/sim.err")"
    sleep 0.05
done
[ -n "$base_url" ] || die "uservox-sim did not say where it listens"
echo "uservox-sim listening on $base_url"

# Another dialer already called 25 of acme's numbers: Uservox answers them with
# "A call attempt has already been made" (api_duplicate_call).
called=$(seq 1101 1125 | sed 's/.*/{"projectId":"acme","processId":"onboarding","phone":"+1415555&"}/' | paste -sd, -)
curl -fsS -o /dev/null -X POST "$base_url/api/v1/leads/bulk/initiate?v=1.2" \
    -H "Authorization: Bearer tok-acme" -H "Content-Type: application/json" \
    --data "{\"leads\":[$called],\"init\":true}" || die "could not reach uservox-sim"

printf '{"acme": "tok-acme", "globex": "tok-globex", "initech": "tok-initech", "umbrella": "tok-umbrella"}\n' \
    >"$work/tokens.json"
chmod 600 "$work/tokens.json"

say "Migrating $demo_db"
"$bin/leadsync" migrate

say "Inserting the sample with plain SQL"
sql "$DATABASE_URL" <<'EOF'
-- acme: 1200 good leads in mixed formatting, a fifth of them for the renewal process.
INSERT INTO leadsync.leads (project_id, process_id, phone, first_name, last_name, email, reference_id, metadata)
SELECT 'acme', CASE WHEN i % 5 = 0 THEN 'renewal' ELSE 'onboarding' END,
       CASE i % 3 WHEN 0 THEN '+1 (415) 555-' || lpad(i::text, 4, '0')
                  WHEN 1 THEN '+1415555' || lpad(i::text, 4, '0')
                  ELSE '1-415-555-' || lpad(i::text, 4, '0') END,
       'Ada' || i, 'Lovelace', 'ada' || i || '@example.com', 'crm-acme-' || i,
       jsonb_build_object('campaign', 'spring', 'score', i % 100)
FROM generate_series(1, 1200) AS i;
-- acme: 60 duplicates of earlier leads (same number, other formatting).
INSERT INTO leadsync.leads (project_id, process_id, phone, reference_id)
SELECT 'acme', 'onboarding', '1 415 555 ' || lpad(i::text, 4, '0'), 'crm-acme-dup-' || i
FROM generate_series(1, 60) AS i;
-- acme: 40 phones that are not phone numbers, 15 with repeating digits.
INSERT INTO leadsync.leads (project_id, process_id, phone, reference_id)
SELECT 'acme', 'onboarding', CASE i % 4 WHEN 0 THEN 'n/a' WHEN 1 THEN '555-' || i WHEN 2 THEN 'call me' ELSE '+1 415 CALL ' || i END,
       'crm-acme-bad-' || i
FROM generate_series(1, 40) AS i;
INSERT INTO leadsync.leads (project_id, process_id, phone, reference_id)
SELECT 'acme', 'onboarding', '+1 ' || (600 + i) || ' 000 0000', 'crm-acme-rep-' || i
FROM generate_series(1, 15) AS i;
-- acme: 30 leads for a process Uservox does not know (404 Process not found).
INSERT INTO leadsync.leads (project_id, process_id, phone, reference_id)
SELECT 'acme', 'legacy-import', '+1415556' || lpad(i::text, 4, '0'), 'crm-acme-legacy-' || i
FROM generate_series(1, 30) AS i;

-- globex: 900 leads, 20 duplicates, 10 bad phones.
INSERT INTO leadsync.leads (project_id, process_id, phone, name, metadata)
SELECT 'globex', 'welcome', '+44 20 7946 ' || lpad(i::text, 4, '0'), 'Hank ' || i, jsonb_build_object('store', i % 12)
FROM generate_series(1, 900) AS i;
INSERT INTO leadsync.leads (project_id, process_id, phone, name)
SELECT 'globex', 'welcome', '+442079460' || lpad(i::text, 3, '0'), 'Hank again ' || i FROM generate_series(1, 20) AS i;
INSERT INTO leadsync.leads (project_id, process_id, phone)
SELECT 'globex', 'welcome', 'ext. ' || i FROM generate_series(1, 10) AS i;

-- initech: 700 leads without a process, 3 with metadata too large to send.
INSERT INTO leadsync.leads (project_id, phone, first_name, group_id)
SELECT 'initech', '+49 30 1234' || lpad(i::text, 4, '0'), 'Peter' || i, 'tps-reports' FROM generate_series(1, 700) AS i;
INSERT INTO leadsync.leads (project_id, phone, metadata)
SELECT 'initech', '+49 30 9999' || lpad(i::text, 4, '0'), jsonb_build_object('notes', repeat('x', 20000))
FROM generate_series(1, 3) AS i;

-- umbrella: inactive at Uservox; hooli: no token at all.
INSERT INTO leadsync.leads (project_id, phone)
SELECT 'umbrella', '+1 212 555 ' || lpad(i::text, 4, '0') FROM generate_series(1, 150) AS i;
INSERT INTO leadsync.leads (project_id, phone)
SELECT 'hooli', '+1 650 555 ' || lpad(i::text, 4, '0') FROM generate_series(1, 80) AS i;
EOF
sql "$DATABASE_URL" -At -c "SELECT count(*) || ' leads in ' || count(DISTINCT project_id) || ' projects' FROM leadsync.leads"

say "What the local pre-check would reject (leadsync check)"
"$bin/leadsync" check

say "Running the worker until nothing is ready (leadsync worker --once)"
USERVOX_BASE_URL="$base_url" LEADSYNC_TOKENS_FILE="$work/tokens.json" LOG_LEVEL=error \
    "$bin/leadsync" worker --once

say "leadsync report"
"$bin/leadsync" report

say "leadsync invalid --limit 12"
"$bin/leadsync" invalid --limit 12

say "Next"
cat <<EOF
The demo database is kept. Try:
  export DATABASE_URL=$DATABASE_URL
  .build/debug/leadsync attempts
  .build/debug/leadsync lead show 1
  .build/debug/leadsync project list
  .build/debug/leadsync report --format json
  .build/debug/leadsync report --check --max-invalid-rate 5% --max-held 0; echo "exit \$?"
EOF
