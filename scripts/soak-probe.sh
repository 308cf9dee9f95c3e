#!/usr/bin/env bash
# Soak test of `fastopen probe --serve` (not run in CI), the Prometheus
# blackbox endpoint: two scrapers probing a local `fastopen serve` ten
# times a second each, a third asking for a closed port, an address that
# does not answer TFO, an HTTP probe of the echo and a malformed target,
# for DURATION. Every INTERVAL it prints the endpoint's RSS, open
# descriptors, threads and goroutines (from the Go runtime's scheduler
# trace: the endpoint has no /metrics of its own) and the scrapes
# answered; they should stay flat (verdict at the end, exit status 1 if
# not). Runs in a network namespace of its own; needs root.
#
#   sudo bash scripts/soak-probe.sh [DURATION_S=180] [INTERVAL_S=10]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/soak-lib.sh
soak_setup "$@"
soak_ns "fo-soak-probe-$$"

in_ns "$bin" serve --addr 127.0.0.1:8000 2>"$work/serve.log" &
soak_bg
in_ns "$bin" serve --addr 127.0.0.1:8001 --plain 2>"$work/plain.log" &
soak_bg
GODEBUG=$SOAK_GODEBUG ip netns exec "$ns" "$bin" probe --serve 127.0.0.1:9115 2>"$work/probe.err" &
probe=$!; soak_bg
soak_wait_tcp "$ns" 127.0.0.1 8000
soak_wait_tcp "$ns" 127.0.0.1 8001
soak_wait_tcp "$ns" 127.0.0.1 9115

url=http://127.0.0.1:9115/probe
for i in 1 2; do
  in_ns bash -c "while :; do curl -s -o /dev/null -w '%{http_code}\n' --max-time 40 '$url?target=127.0.0.1:8000' >>'$work/scrapes.$i'; sleep 0.1; done" &
  soak_bg
done
in_ns bash -c "while :; do for q in 'target=127.0.0.1:8009' 'target=127.0.0.1:8001' 'target=127.0.0.1:8000&as=http' 'target=nonsense'; do
  curl -s -o /dev/null -w '%{http_code}\n' --max-time 40 \"$url?\$q\" >>'$work/scrapes.3'; sleep 0.5; done; done" &
soak_bg

soak_watch probe "$probe" "sched:$work/probe.err"
SOAK_EXTRA_HEADER="SCRAPES NOT_200"
soak_extra() {
  cat "$work"/scrapes.* 2>/dev/null | awk '{n++} $1 != 200 {b++} END {printf "%d %d\n", n, b}'
}
soak_run "$duration" "$interval"
