#!/bin/bash
# Cost per connection on paths that punish TFO: plain TCP, TFO without path
# memory ("before", --ignore-path-memory) and with it ("after"), in a lab at
# RTT 20 ms. Prints, per fault, the median elapsed time of connections 3-10
# (3-30 under loss) and every connection's time, in ms. Needs root.
#
#   go build -o /tmp/fastopen ./cmd/fastopen && sudo bash scripts/measure-path-memory.sh /tmp/fastopen [FAULT]
#
# FAULT limits the run to one row (none, drop-syn-data, ..., "loss 20%").
set -u
FO=${1:?usage: measure-path-memory.sh PATH-TO-fastopen-BINARY [FAULT]}
ONLY=${2:-}
echo "fault | plain | before (no path memory) | after (path memory)"
for spec in "none|" "drop-syn-data|--fault drop-syn-data" "drop-synack-cookie|--fault drop-synack-cookie" \
	"strip-tfo|--fault strip-tfo" "blackhole-tfo:1|--fault blackhole-tfo:1" "loss 20%|--loss 0.2"; do
	name=${spec%%|*} args=${spec#*|}
	[ -n "$ONLY" ] && [ "$ONLY" != "$name" ] && continue
	count=10
	[ "$name" = "loss 20%" ] && count=30
	dir=$(mktemp -d)
	export FASTOPEN_LAB_DIR=$dir
	# shellcheck disable=SC2086
	if ! "$FO" lab up --rtt 20ms $args --detach >/dev/null; then
		echo "$name: lab up failed" >&2
		continue
	fi
	"$FO" lab exec server -- "$FO" serve --addr 10.200.0.2:8000 >/dev/null 2>&1 &
	until "$FO" lab exec client -- "$FO" send 10.200.0.2:8000 --plain >/dev/null 2>&1; do sleep 0.1; done
	line=$name
	for mode in --plain --ignore-path-memory "--state $dir/paths.json"; do
		"$FO" lab exec client -- "$FO" cookies flush >/dev/null 2>&1
		# shellcheck disable=SC2086
		out=$("$FO" lab exec client -- "$FO" send 10.200.0.2:8000 --count "$count" --timeout 60s --json $mode 2>/dev/null)
		line+=" | "$(echo "$out" | python3 -c '
import sys, json
ms = [json.loads(l)["elapsed_ms"] for l in sys.stdin]
tail = sorted(ms[2:])
print("%.0f [%s]" % (tail[len(tail)//2], " ".join("%.0f" % m for m in ms)) if tail else "-")')
	done
	echo "$line"
	"$FO" lab down >/dev/null 2>&1
	wait
	rm -rf "$dir"
done
