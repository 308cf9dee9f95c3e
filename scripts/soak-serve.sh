#!/usr/bin/env bash
# Soak test of `fastopen serve` (not run in CI): a steady load of TFO
# exchanges, slow clients that hold connections, metrics scrapes and a key
# file rewritten every few seconds, for DURATION. Every INTERVAL it prints
# the server's RSS, open descriptors, threads and goroutines (from its
# /metrics); they should stay flat (verdict at the end, exit status 1 if
# not). Runs in a network namespace of its own; needs root.
#
#   sudo bash scripts/soak-serve.sh [DURATION_S=180] [INTERVAL_S=10]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/soak-lib.sh
soak_setup "$@"
soak_ns "fo-soak-$$"

"$bin" key new > "$work/tfo.key"; chmod 600 "$work/tfo.key"
ip netns exec "$ns" "$bin" serve --addr 127.0.0.1:8000 --metrics 127.0.0.1:9100 --key-file "$work/tfo.key" \
  --idle-timeout 5s 2>"$work/serve.log" &
serve=$!; soak_bg
soak_wait_tcp "$ns" 127.0.0.1 9100

# Load: two clients sending back to back (each exchange rides in the SYN
# once the cookie is cached), one sending 4 KiB (beyond the echo's 2048 B:
# reset connections), idle connections that the idle timeout closes.
for _ in 1 2; do
  in_ns bash -c "while :; do '$bin' send 127.0.0.1:8000 --count 5000 --json >/dev/null 2>&1 || true; done" &
  soak_bg
done
head -c 4096 /dev/urandom > "$work/big"
in_ns bash -c "while :; do '$bin' send 127.0.0.1:8000 --data-file '$work/big' --count 200 >/dev/null 2>&1 || true; done" &
soak_bg
soak_idle_conns 8000
bash -c "while :; do '$bin' key new > '$work/k.new' && chmod 600 '$work/k.new' && mv '$work/k.new' '$work/tfo.key'; sleep 3; done" &
soak_bg

scrape() { in_ns curl -s --max-time 2 http://127.0.0.1:9100/metrics; }
soak_watch serve "$serve" metrics:scrape
SOAK_EXTRA_HEADER="CONNECTIONS KEY_LOADS"
soak_extra() {
  awk '/^fastopen_server_connections_total/ {s += $2} END {printf "%d", s}' <<<"${soak_metrics[serve]}"
  echo
  awk '/^fastopen_key_loads_total\{result="ok"\}/ {print $2}' <<<"${soak_metrics[serve]}"
}
soak_run "$duration" "$interval"
