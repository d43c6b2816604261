#!/usr/bin/env bash
# How long /health takes to answer while wide slot searches run: fills SQLite with N
# appointments (default 100,000; 50 practitioners), starts the release server on it, and
# for 15 seconds runs C clients (default 4) each asking for the whole practice's free
# times over a different 90 days (so the slot cache never answers for them), while one
# probe asks /health every 50 ms. Prints the searches answered and /health's latency
# (p50, p99, max, in ms). Usage: benches/scripts/health_under_search.sh [N] [C]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-100000}
clients=${2:-4}
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
cargo build --release -q -p clinic-server-example -p clinic-benches --examples --bins
info=$(target/release/examples/fill_store "sqlite://$work/clinic.db" "$n" | tail -1)
service=$(sed -E 's/.*service ([0-9a-f-]+);.*/\1/' <<<"$info")
export CLINIC_DATABASE_URL="sqlite://$work/clinic.db" CLINIC_KEY_FILE="$work/keys" CLINIC_LISTEN=127.0.0.1:18092 \
  CLINIC_ADMIN_EMAIL=health@bench.example CLINIC_ADMIN_PASSWORD='a health bench passphrase'
target/release/clinic-server-example >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do curl -sf localhost:18092/health >/dev/null && break; sleep 0.2; done
token=$(curl -sf -X POST localhost:18092/api/v1/auth/login -H 'content-type: application/json' \
  -d '{"email": "health@bench.example", "password": "a health bench passphrase"}' \
  | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
auth="authorization: Bearer $token"
end=$((SECONDS + 15))
pids=()
for c in $(seq "$clients"); do
  (
    k=0
    while [ $SECONDS -lt $end ]; do
      from=$(date -d "2026-03-02 + $(( (c * 97 + k * 13) % 700 )) days" +%F)
      to=$(date -d "$from + 89 days" +%F)
      curl -sf -H "$auth" -o /dev/null \
        "localhost:18092/api/v1/slots?service_id=$service&from=$from&to=$to&zone=Australia/Sydney&limit=5000" \
        && echo ok >>"$work/searches"
      k=$((k + 1))
    done
  ) &
  pids+=($!)
done
sleep 1
while [ $SECONDS -lt $end ]; do
  curl -s -o /dev/null -w '%{time_total}\n' localhost:18092/health >>"$work/health"
  sleep 0.05
done
wait "${pids[@]}"
echo "clients: $clients, searches answered: $(wc -l <"$work/searches" 2>/dev/null || echo 0), /health probes: $(wc -l <"$work/health")"
sort -n "$work/health" | awk '{ v[NR] = $1 * 1000 } END {
  printf "/health ms: p50 %.1f, p99 %.1f, max %.1f\n", v[int(NR * 0.5)], v[int(NR * 0.99)], v[NR] }'
