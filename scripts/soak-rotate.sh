#!/usr/bin/env bash
# Soak test of `fastopen key rotate --daemon` (not run in CI) with the
# shortest interval it allows (2s: new keys every second) writing a key
# file that `fastopen serve --key-file` reloads, while a client exchanges
# with the server every 2 ms, for DURATION. Every INTERVAL it prints both
# processes' RSS, open descriptors, threads and goroutines (the server's
# from its /metrics, the daemon's from the Go runtime's scheduler trace),
# the keys written and loaded, and the temporary files left beside the key
# file (none expected); they should stay flat (verdict at the end, exit
# status 1 if not). Needs root (a network namespace for the server).
#
#   sudo bash scripts/soak-rotate.sh [DURATION_S=180] [INTERVAL_S=10]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/soak-lib.sh
soak_setup "$@"
soak_ns "fo-soak-rot-$$"

mkdir "$work/keys"
head -c 32 /dev/urandom | base64 >"$work/secret"; chmod 600 "$work/secret"
GODEBUG=$SOAK_GODEBUG "$bin" key rotate --secret-file "$work/secret" --interval 2s \
  --key-file "$work/keys/tfo.key" --daemon 2>"$work/rotate.err" &
rotate=$!; soak_bg
for _ in $(seq 100); do [ -s "$work/keys/tfo.key" ] && break; sleep 0.1; done
ip netns exec "$ns" "$bin" serve --addr 127.0.0.1:8000 --metrics 127.0.0.1:9100 --key-file "$work/keys/tfo.key" 2>"$work/serve.log" &
serve=$!; soak_bg
soak_wait_tcp "$ns" 127.0.0.1 9100

in_ns bash -c "while :; do '$bin' send 127.0.0.1:8000 --count 100000 --interval 2ms --state none >/dev/null 2>&1 || true; done" &
soak_bg

scrape() { in_ns curl -s --max-time 2 http://127.0.0.1:9100/metrics; }
soak_watch rotate "$rotate" "sched:$work/rotate.err"
soak_watch serve "$serve" metrics:scrape
SOAK_EXTRA_HEADER="CONNECTIONS KEYS_WRITTEN KEY_LOADS TMP_FILES"
soak_extra() {
  awk '/^fastopen_server_connections_total/ {s += $2} END {printf "%d\n", s}' <<<"${soak_metrics[serve]}"
  grep -c 'TFO keys installed' "$work/rotate.err" || true
  awk '/^fastopen_key_loads_total\{result="ok"\}/ {v = $2} END {print (v == "" ? 0 : v)}' <<<"${soak_metrics[serve]}"
  find "$work/keys" -name '.*tmp*' | wc -l
}
soak_run "$duration" "$interval"
