#!/usr/bin/env bash
# Soak test of `fastopen relay` (not run in CI): a client relay (TFO on
# its dials) in front of a server relay (TFO listener, --early forward) in
# front of `fastopen serve --plain`, carrying two clients exchanging back
# to back, one sending 64 KiB to the echo in stream mode, and idle
# connections that the relays' idle timeout closes, for DURATION. Every
# INTERVAL it prints both relays' RSS, open descriptors, threads and
# goroutines (from the Go runtime's scheduler trace) and the connections
# relayed with SYN data on the long leg (from the server relay's
# /metrics); they should stay flat (verdict at the end, exit status 1 if
# not). Runs in a network namespace of its own; needs root.
#
#   sudo bash scripts/soak-relay.sh [DURATION_S=180] [INTERVAL_S=10]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/soak-lib.sh
soak_setup "$@"
soak_ns "fo-soak-relay-$$"

in_ns "$bin" serve --addr 127.0.0.1:8000 --plain --stream --idle-timeout 5s 2>"$work/serve.log" &
soak_bg
GODEBUG=$SOAK_GODEBUG ip netns exec "$ns" "$bin" relay --listen 127.0.0.1:9001 --to 127.0.0.1:8000 \
  --tfo listen --early forward --idle 5s --metrics 127.0.0.1:9101 2>"$work/far.err" &
far=$!; soak_bg
GODEBUG=$SOAK_GODEBUG ip netns exec "$ns" "$bin" relay --listen 127.0.0.1:9000 --to 127.0.0.1:9001 \
  --tfo dial --idle 5s 2>"$work/near.err" &
near=$!; soak_bg
soak_wait_tcp "$ns" 127.0.0.1 8000
soak_wait_tcp "$ns" 127.0.0.1 9001
soak_wait_tcp "$ns" 127.0.0.1 9000
soak_wait_tcp "$ns" 127.0.0.1 9101

# Load: plain clients of the near relay (`send --plain`: the relay puts
# their first flight in the SYN of the long leg).
for _ in 1 2; do
  in_ns bash -c "while :; do '$bin' send 127.0.0.1:9000 --plain --count 2000 --state none >/dev/null 2>&1 || true; done" &
  soak_bg
done
head -c 65536 /dev/urandom > "$work/big"
in_ns bash -c "while :; do '$bin' send 127.0.0.1:9000 --plain --stream --data-file '$work/big' --count 50 --state none >/dev/null 2>&1 || true; done" &
soak_bg
soak_idle_conns 9000

soak_watch near "$near" "sched:$work/near.err"
soak_watch far "$far" "sched:$work/far.err"
SOAK_EXTRA_HEADER="RELAYED IN_SYN"
soak_extra() {
  in_ns curl -s --max-time 2 http://127.0.0.1:9101/metrics |
    awk '/^fastopen_relay_connections_total\{leg="in"/ {n += $2} /^fastopen_relay_connections_total\{leg="in",syn_data="true"/ {s += $2} END {printf "%d %d\n", n, s}'
}
soak_run "$duration" "$interval"
