#!/usr/bin/env bash
# The database's own ceiling for bookings on PostgreSQL: pgbench runs the statements of one
# booking (pg_booking.sql) on a fresh database migrated to the current schema, with 1 and
# 16 clients, so the storage bench's `storage/postgres/book_*` can be read beside what no
# client could beat on the same machine at the same moment.
# Usage: benches/scripts/pg_booking.sh [postgres admin url] [seconds]
set -euo pipefail
cd "$(dirname "$0")/../.."
admin=${1:-${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}}
secs=${2:-20}
db="clinic_pgbench_$$"
url="${admin%/*}/$db"
psql -q "$admin" -c "CREATE DATABASE $db"
trap 'psql -q "$admin" -c "DROP DATABASE IF EXISTS $db" >/dev/null' EXIT
CLINIC_DATABASE_URL="$url" cargo run -q --release -p clinic-server-example -- migrate
# A fresh database runs at about half speed for its first seconds (its tables growing from
# nothing, no statistics): a first run, not reported, fills it, then ANALYZE, as
# autovacuum would in service.
PGOPTIONS="-c role=clinic_app" pgbench -n -M prepared -c 16 -j 2 -T "$secs" \
  -f benches/scripts/pg_booking.sql "$url" >/dev/null
psql -q "$url" -c ANALYZE
# As the application role, as the store connects: row-level security then applies, and
# with it the planner's rule that keeps a condition that could leak out of an index search.
for clients in 1 16; do
  echo "pgbench, $clients client(s), ${secs} s:"
  PGOPTIONS="-c role=clinic_app" pgbench -n -M prepared -c "$clients" -j 2 -T "$secs" -f benches/scripts/pg_booking.sql "$url" \
    | grep -E '^(tps|latency average|number of failed)'
done
