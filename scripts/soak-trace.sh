#!/usr/bin/env bash
# Soak test of `fastopen trace -i` (not run in CI): a live capture on the
# loopback of a namespace of its own while a client exchanges with
# `fastopen serve` there, one connection every 5 ms (tens of thousands in a
# few minutes, beyond the 10,000 connections a trace keeps), for DURATION.
# Every INTERVAL it prints the trace process's RSS, open descriptors,
# threads and goroutines (from the Go runtime's scheduler trace: trace has
# no /metrics); they should stay flat (verdict at the end, exit status 1 if
# not). Then it stops the trace with SIGINT and shows its last lines
# (segments captured, dropped by the kernel). Needs root.
#
#   sudo bash scripts/soak-trace.sh [DURATION_S=180] [INTERVAL_S=10]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/soak-lib.sh
soak_setup "$@"
soak_ns "fo-soak-trace-$$"

in_ns "$bin" serve --addr 127.0.0.1:8000 --metrics 127.0.0.1:9100 2>"$work/serve.log" &
soak_bg
soak_wait_tcp "$ns" 127.0.0.1 9100
# Events go to a pipe that keeps only the last lines (the summary).
GODEBUG=$SOAK_GODEBUG ip netns exec "$ns" "$bin" trace -i lo --port 8000 \
  > >(tail -n 4 >"$work/trace.tail") 2>"$work/trace.err" &
trace=$!; soak_bg
for _ in $(seq 100); do grep -q '^capturing on' "$work/trace.err" && break; sleep 0.1; done
grep -q '^capturing on' "$work/trace.err" || { cat "$work/trace.err" >&2; exit 1; }

in_ns bash -c "while :; do '$bin' send 127.0.0.1:8000 --count 100000 --interval 5ms --state none >/dev/null 2>&1 || true; done" &
soak_bg

scrape() { in_ns curl -s --max-time 2 http://127.0.0.1:9100/metrics; }
soak_watch trace "$trace" "sched:$work/trace.err"
SOAK_EXTRA_HEADER="CONNECTIONS"
soak_extra() { scrape 2>/dev/null | awk '/^fastopen_server_connections_total/ {s += $2} END {printf "%d\n", s}'; }
rc=0
soak_run "$duration" "$interval" || rc=$?
kill -INT "$trace"
for _ in $(seq 100); do kill -0 "$trace" 2>/dev/null || break; sleep 0.1; done
sleep 0.5
echo; echo "trace's last lines after SIGINT:"; cat "$work/trace.tail"
exit "$rc"
