#!/usr/bin/env bash
# The reference server's memory with 1,000,000 appointments stored in SQLite: fills a
# database, starts the server on it, runs slot searches and bookings, and prints the
# process's resident memory (VmRSS) and its peak (VmHWM): after start, after 90-day
# searches, and after 16 clients have searched for 10 seconds. Nothing loads whole tables,
# so the figures match those of an empty database. Usage: benches/scripts/server_memory.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-1000000}
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
cargo build --release -q -p clinic-server-example -p clinic-benches --examples --bins
info=$(target/release/examples/fill_store "sqlite://$work/clinic.db" "$n" | tail -1)
echo "$info"
practitioner=$(sed -E 's/.*practitioner ([0-9a-f-]+);.*/\1/' <<<"$info")
service=$(sed -E 's/.*service ([0-9a-f-]+);.*/\1/' <<<"$info")
export CLINIC_DATABASE_URL="sqlite://$work/clinic.db" CLINIC_KEY_FILE="$work/keys" CLINIC_LISTEN=127.0.0.1:18091 \
  CLINIC_ADMIN_EMAIL=memory@bench.example CLINIC_ADMIN_PASSWORD='a memory bench passphrase'

target/release/clinic-server-example >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do curl -sf localhost:18091/health >/dev/null && break; sleep 0.2; done
mem() { grep -E '^(VmRSS|VmHWM)' "/proc/$server/status" | tr -s ' ' | tr '\n' ' '; echo; }
echo "after start:            $(mem)"
token=$(curl -sf -X POST localhost:18091/api/v1/auth/login -H 'content-type: application/json' \
  -d '{"email": "memory@bench.example", "password": "a memory bench passphrase"}' \
  | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
auth="authorization: Bearer $token"
for from in 2026-03-02 2027-06-07 2030-01-06; do
  to=$(date -d "$from + 89 days" +%F)
  curl -sf -H "$auth" "localhost:18091/api/v1/slots?service_id=$service&from=$from&to=$to&zone=Australia/Sydney&limit=5000" -o /dev/null
  curl -sf -H "$auth" "localhost:18091/api/v1/slots?service_id=$service&practitioner_id=$practitioner&from=$from&to=$to&zone=Australia/Sydney&limit=5000" -o /dev/null
done
echo "after 90-day searches:  $(mem)"
# 16 clients, each searching a different 90 days of one practitioner for 10 seconds.
end=$((SECONDS + 10))
for c in $(seq 16); do
  (
    from=$(date -d "2026-03-02 + $((c * 7)) days" +%F)
    to=$(date -d "$from + 89 days" +%F)
    while [ $SECONDS -lt $end ]; do
      curl -sf -H "$auth" "localhost:18091/api/v1/slots?service_id=$service&practitioner_id=$practitioner&from=$from&to=$to&zone=Australia/Sydney&limit=5000" -o /dev/null
    done
  ) &
done
sleep 10.5
echo "after 16 clients, 10 s: $(mem)"
