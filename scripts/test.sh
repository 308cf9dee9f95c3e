#!/usr/bin/env bash
# The whole test suite: installs what the tests need, checks formatting,
# vet and staticcheck, builds for every supported OS, runs every test (in
# network namespaces: needs root), and fuzzes the packet decoder and the
# parsers of key files, secrets and faults briefly.
#
#   sudo bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/test.sh needs root (tests create network namespaces, TUN devices and set per-namespace sysctls): run it with sudo" >&2
  exit 1
fi
command -v go >/dev/null || { echo "Go is not installed: install Go 1.26 or later (https://go.dev/doc/install)" >&2; exit 1; }
export PATH="$PATH:$(go env GOPATH)/bin"

step "tools the tests use: curl, nginx, tshark, python3, ip, knotd"
missing=()
for pair in curl:curl nginx:nginx-light tshark:tshark python3:python3 ip:iproute2 knotd:knot; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
for c in curl nginx tshark python3 ip knotd; do
  command -v "$c" >/dev/null || { echo "$c is still missing after installing: the interop tests cannot run" >&2; exit 1; }
done
echo "ok: $(curl --version | head -1 | cut -d' ' -f1-2), $(nginx -v 2>&1), $(tshark --version 2>/dev/null | head -1 | cut -d' ' -f1-3), $(python3 --version)"
if ! command -v staticcheck >/dev/null; then
  echo "installing staticcheck"
  go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
fi

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
echo ok

step "go vet"
go vet ./...
echo ok

step "staticcheck"
staticcheck ./...
echo ok

step "bench/compare (its own module, beside tfo-go): vet only, the benchmark is run by hand"
(cd bench/compare && go vet ./...)
echo ok

step "build for linux, darwin, windows, freebsd; vet for 32-bit linux"
for os in linux darwin windows freebsd; do
  GOOS=$os go build ./... && echo "ok: $os"
done
GOARCH=386 go vet ./... && echo "ok: linux/386 (32-bit int), tests included"

step "tests (each in its own network namespaces)"
go test -count=1 -timeout 12m ./...

# Fuzzing budgets are counts of executions, not durations: with a duration,
# Go 1.26's fuzz coordinator can report a spurious "context deadline
# exceeded" when the time runs out while a worker is busy (golang/go#75804,
# fixed in Go 1.27). A count has no deadline to race.
step "fuzz the packet decoder (200,000 inputs, about 20 s)"
go test -run '^$' -fuzz '^FuzzDecode$' -fuzztime 200000x ./trace

step "fuzz the key file, secret and fault parsers (about 5 s each)"
go test -run '^$' -fuzz '^FuzzParseKeyFile$' -fuzztime 100000x ./key
go test -run '^$' -fuzz '^FuzzParseSecret$' -fuzztime 100000x ./key
go test -run '^$' -fuzz '^FuzzParseFault$' -fuzztime 50000x ./lab
