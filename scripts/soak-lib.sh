# Shared by scripts/soak-*.sh (source it; not run on its own): setup and
# clean-up, and the sampling of the watched processes' RSS, open
# descriptors, threads and goroutines into one table, with a verdict at
# the end.
#
#   soak_setup [DURATION_S=180] [INTERVAL_S=10]
#                                root check, $duration, $interval, work dir
#                                $work, binary $bin, traps
#   soak_ns NAME                 $ns: a network namespace with lo up and TFO
#                                on (3); in_ns CMD... runs CMD in it
#   soak_bg                      register $! to be stopped at exit
#   soak_wait_tcp NS ADDR PORT   wait until something listens there
#   soak_idle_conns PORT         load: every 7 s, 20 connections to
#                                127.0.0.1:PORT in $ns left open and idle
#                                (the server's idle timeout must end them)
#   soak_watch LABEL PID [SRC]   watch a process; goroutines from SRC:
#                                  metrics:FUNC  FUNC prints its Prometheus text
#                                                (go_goroutines)
#                                  sched:FILE    FILE gets the process's stderr,
#                                                started with $SOAK_GODEBUG
#                                  (none)        no goroutine count: threads only
#   soak_run DURATION INTERVAL   sample every INTERVAL seconds for DURATION,
#                                print the table and the verdict; returns 1
#                                when something grew or a process died
#
# soak_extra (a function the script may define) prints extra columns for
# each row, named by $SOAK_EXTRA_HEADER; it may read the last metrics text
# of a watched process from ${soak_metrics[LABEL]}.
#
# Goroutines of a process without /metrics come from the Go runtime's own
# scheduler trace (GODEBUG=schedtrace=MS,scheddetail=1 lists every
# goroutine every MS milliseconds on stderr): the live goroutines of the
# last complete listing, the runtime's own included, so the level is a few
# above runtime.NumGoroutine (go_goroutines); what matters is that it stays
# flat. The same GODEBUG asks for the GC trace (gctrace=1); the verdict
# ends with each such process's live heap after its first and last
# collection.
#
# Verdict: a value is flat when its maximum over the second half of the
# samples exceeds its maximum over the first half (the sample at 0 s, before
# the load, left out) by no more than a tolerance: SOAK_TOL_RSS_PCT (10 %)
# for RSS, SOAK_TOL_COUNT (2) for descriptors, threads and goroutines. A
# fast leak grows past it (exit status 1); warm-up and noise stay within. A
# value within it whose every later sample is above the first half's
# maximum is reported as rising, with its rate, for a person to judge
# (e.g. with the live heap from the GC trace).

SOAK_GODEBUG="schedtrace=2000,scheddetail=1,gctrace=1"
soak_pids=()
soak_labels=()
declare -A soak_pid soak_src soak_metrics soak_from

soak_setup() {
  duration=${1:-180}
  interval=${2:-10}
  [ "$(id -u)" -eq 0 ] || { echo "needs root (creates network namespaces)" >&2; exit 1; }
  work=$(mktemp -d)
  bin="$work/fastopen"
  soak_nss=()
  trap soak_cleanup EXIT
  trap "exit 1" INT TERM
  go build -o "$bin" ./cmd/fastopen
}

# soak_kill PID stops PID and then everything it started (a load loop
# first, so that it starts nothing new).
soak_kill() {
  local kids c
  kids=$(pgrep -P "$1" || true)
  kill "$1" 2>/dev/null || true
  for c in $kids; do soak_kill "$c"; done
}

soak_cleanup() {
  local p
  for p in "${soak_pids[@]}"; do soak_kill "$p"; done
  wait 2>/dev/null || true
  for p in "${soak_nss[@]}"; do ip netns del "$p" 2>/dev/null || true; done
  if [ -n "${SOAK_KEEP:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}

soak_ns() {
  ns=$1
  ip netns add "$1"
  soak_nss+=("$1")
  ip -n "$1" link set lo up
  ip netns exec "$1" sysctl -qw net.ipv4.tcp_fastopen=3
}

in_ns() { ip netns exec "$ns" "$@"; }

soak_bg() { soak_pids+=("$!"); }

soak_idle_conns() {
  in_ns bash -c "while :; do for i in \$(seq 20); do exec {fd}<>/dev/tcp/127.0.0.1:$1; done; sleep 7; done" 2>/dev/null &
  soak_bg
}

soak_wait_tcp() {
  local _
  for _ in $(seq 100); do
    ip netns exec "$1" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on $2:$3 in $1 after 10 s" >&2
  return 1
}

soak_watch() {
  soak_labels+=("$1")
  soak_pid[$1]=$2
  soak_src[$1]=${3:-}
}

# soak_goroutines LABEL sets gor to the goroutine count or -, and
# soak_metrics[LABEL] to the metrics text where there is one.
soak_goroutines() {
  local src=${soak_src[$1]}
  case $src in
  metrics:*)
    soak_metrics[$1]=$(${src#metrics:} 2>/dev/null || true)
    gor=$(awk '/^go_goroutines / {g = $2} END {print (g == "" ? "-" : g)}' <<<"${soak_metrics[$1]}")
    ;;
  sched:*)
    # The last listing may still be being written: count the one before.
    gor=$(awk -v from="${soak_from[$1]:-0}" 'NR <= from {next}
      /^SCHED / {n++; c[n] = 0; next}
      n && /^  G[0-9]+: status=/ {
        s = $2; sub(/^status=/, "", s); sub(/\(.*/, "", s); s = s % 4096
        if (s != 0 && s != 6 && s != 11) c[n]++   # not idle, dead or dead-extra
      }
      END {print (n >= 2 ? c[n-1] : "-")}' "${src#sched:}" 2>/dev/null || echo -)
    ;;
  *) gor=- ;;
  esac
}

soak_run() {
  local duration=$1 interval=$2 start now el l pid rss fds thr gor hdr row extra
  local samples="$work/samples.tsv" died=0
  : >"$samples"
  hdr=$(printf '%8s' ELAPSED_S)
  for l in "${soak_labels[@]}"; do
    hdr+=$(printf ' %14s %6s %5s %5s' "${l}_RSS_KiB" FDS THR GOR)
  done
  for extra in ${SOAK_EXTRA_HEADER:-}; do hdr+=$(printf ' %12s' "$extra"); done
  # Goroutines from a scheduler trace count from its second listing after
  # this point (up to 2 × 2 s), so that the first row shows them under load.
  for l in "${soak_labels[@]}"; do
    case ${soak_src[$l]} in sched:*)
      soak_from[$l]=$(wc -l <"${soak_src[$l]#sched:}")
      for _ in $(seq 100); do soak_goroutines "$l"; [ "$gor" != - ] && break; sleep 0.1; done
      [ "$gor" != - ] || echo "no scheduler trace from $l in ${soak_src[$l]#sched:} (started with GODEBUG=$SOAK_GODEBUG?)" >&2
    esac
  done
  echo "$hdr"
  start=$(date +%s)
  while :; do
    now=$(date +%s); el=$((now - start))
    row=$(printf '%8d' "$el")
    for l in "${soak_labels[@]}"; do
      pid=${soak_pid[$l]}
      if [ ! -r "/proc/$pid/status" ]; then
        row+=$(printf ' %14s %6s %5s %5s' DIED - - -); died=1; continue
      fi
      rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
      thr=$(awk '/^Threads/ {print $2}' "/proc/$pid/status")
      fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
      soak_goroutines "$l"
      row+=$(printf ' %14s %6s %5s %5s' "$rss" "$fds" "$thr" "$gor")
      printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$el" "$l" "$rss" "$fds" "$thr" "$gor" >>"$samples"
    done
    if [ -n "${SOAK_EXTRA_HEADER:-}" ]; then
      for extra in $(soak_extra); do row+=$(printf ' %12s' "$extra"); done
    fi
    echo "$row"
    [ "$el" -ge "$duration" ] && break
    sleep "$interval"
  done
  echo
  echo "verdict after ${el} s (flat: the second half's maximum within ${SOAK_TOL_RSS_PCT:-10} % (RSS) or ${SOAK_TOL_COUNT:-2} of the first half's, the sample at 0 s left out):"
  awk -F'\t' -v pct="${SOAK_TOL_RSS_PCT:-10}" -v tol="${SOAK_TOL_COUNT:-2}" -v died="$died" '
    { i = n[$2]++; v[$2, i, 1] = $1; v[$2, i, 3] = $3; v[$2, i, 4] = $4; v[$2, i, 5] = $5; v[$2, i, 6] = $6
      if (!($2 in seen)) { seen[$2] = 1; order[++labels] = $2 } }
    END {
      name[3] = "RSS_KiB"; name[4] = "FDS"; name[5] = "THREADS"; name[6] = "GOROUTINES"
      printf "%-10s %-10s %10s %10s %10s  %s\n", "PROCESS", "VALUE", "START", "END", "MAX", "VERDICT"
      bad = died
      for (k = 1; k <= labels; k++) {
        l = order[k]; m = n[l]; h = int((m + 1) / 2)
        for (c = 3; c <= 6; c++) {
          if (v[l, 0, c] == "-") continue
          max = 0; m1 = 0; m2 = -1
          for (i = 0; i < m; i++) {
            x = v[l, i, c] + 0
            if (x > max) max = x
            if (i >= 1 && i < h && x > m1) m1 = x
            if (i >= h && x > m2) m2 = x
            if (i >= h && (i == h || x < min2)) min2 = x
          }
          t = (c == 3) ? m1 * pct / 100 : tol
          verdict = "flat"
          if (m < 4) verdict = "too few samples"
          else if (m2 > m1 + t) { verdict = sprintf("GREW (%d over the first half)", m2 - m1); bad = 1 }
          else if (min2 > m1) {
            # Within the tolerance, but every later sample is above the
            # first half: say how fast, so that a slow leak is not missed.
            dt = v[l, m - 1, 1] - v[l, h - 1, 1]
            verdict = sprintf("within tolerance, but rising: %+.0f per minute over the second half", dt > 0 ? (v[l, m - 1, c] - v[l, h - 1, c]) * 60 / dt : 0)
          }
          printf "%-10s %-10s %10s %10s %10s  %s\n", l, name[c], v[l, 0, c], v[l, m - 1, c], max, verdict
        }
      }
      if (died) print "a watched process DIED during the soak"
      exit bad
    }' "$samples" || died=1
  # The runtime's GC trace: the live heap after each collection is the
  # plainest sign of a leak; a quiet process may not have collected yet
  # (the first collection comes at a 4 MB heap).
  for l in "${soak_labels[@]}"; do
    case ${soak_src[$l]} in sched:*)
      awk -v l="$l" '/^gc [0-9]+ @/ {n++; split($0, a, " MB,"); k = split(a[1], b, "->"); live = b[k]
          if (n == 1) first = live; goal = a[2]; sub(/^ */, "", goal); sub(/ MB goal.*/, "", goal)}
        END {if (n) printf "%s: %d garbage collections; live heap after the first %s MB, after the last %s MB (goal %s MB)\n", l, n, first, live, goal
             else printf "%s: no garbage collection yet (the first comes at a 4 MB heap)\n", l}' "${soak_src[$l]#sched:}"
    esac
  done
  return "$died"
}
