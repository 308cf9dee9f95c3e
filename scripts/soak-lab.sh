#!/usr/bin/env bash
# Soak test of `fastopen lab up` (not run in CI): a lab at RTT 10 ms in the
# foreground carrying a steady load of connections between its hosts — two
# clients exchanging back to back with `fastopen serve` in the server host
# (TFO once the cookie is cached), one sending 4 KiB requests (several
# segments each way, reset by the 2048-byte echo) — for DURATION. Every
# INTERVAL it prints the lab process's RSS, open descriptors, threads and
# goroutines (from the Go runtime's scheduler trace: the lab has no
# /metrics); they should stay flat (verdict at the end, exit status 1 if
# not). The lab keeps its state in a directory of its own
# ($FASTOPEN_LAB_DIR), so it runs beside other labs; needs root.
#
#   sudo bash scripts/soak-lab.sh [DURATION_S=180] [INTERVAL_S=10]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/soak-lib.sh
soak_setup "$@"
export FASTOPEN_LAB_DIR="$work/lab"

GODEBUG=$SOAK_GODEBUG "$bin" lab up --rtt 10ms >"$work/lab.out" 2>"$work/lab.err" &
lab=$!; soak_bg
for _ in $(seq 300); do
  "$bin" lab status >/dev/null 2>&1 && break
  kill -0 "$lab" 2>/dev/null || { cat "$work/lab.out" "$work/lab.err" >&2; exit 1; }
  sleep 0.1
done
"$bin" lab status >/dev/null
srv=10.200.0.2
"$bin" lab exec server -- "$bin" serve --addr $srv:8000 --metrics $srv:9100 --idle-timeout 5s 2>"$work/serve.log" &
soak_bg
scrape() { "$bin" lab exec server -- curl -s --max-time 2 http://$srv:9100/metrics; }
for _ in $(seq 100); do scrape >/dev/null 2>&1 && break; sleep 0.1; done

for _ in 1 2; do
  "$bin" lab exec client -- bash -c "while :; do '$bin' send $srv:8000 --count 1000 --state none >/dev/null 2>&1 || true; done" &
  soak_bg
done
head -c 4096 /dev/urandom > "$work/big"
"$bin" lab exec client -- bash -c "while :; do '$bin' send $srv:8000 --data-file '$work/big' --count 100 --interval 50ms --state none >/dev/null 2>&1 || true; done" &
soak_bg

# The server's metrics give the connections (its goroutines are not
# watched here: scripts/soak-serve.sh soaks it).
soak_watch lab "$lab" "sched:$work/lab.err"
SOAK_EXTRA_HEADER="CONNECTIONS LINK_PACKETS"
soak_extra() {
  scrape 2>/dev/null | awk '/^fastopen_server_connections_total/ {s += $2} END {printf "%d\n", s}'
  "$bin" lab status --json 2>/dev/null | grep -o '"packets": *[0-9]*' | awk -F: '{s += $2} END {printf "%d\n", s}'
}
soak_run "$duration" "$interval"
