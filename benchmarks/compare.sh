#!/usr/bin/env bash
# compare.sh: whole-process cost of k6-penelopa against k6's built-in experimental-prometheus-rw
# output and against no output, on the same scripts with the same stock k6 (see
# benchmarks/cmd/compare for what is measured and how).
#
#   benchmarks/compare.sh -quick                 smoke test, about 2 minutes
#   benchmarks/compare.sh                        3 interleaved runs of each variant, every script
#   benchmarks/compare.sh -runs 5 -scripts custom-100k -o result.txt
#
# It builds k6-penelopa from this tree into a temporary folder (or uses PENELOPA_BIN) and finds
# the stock k6 through K6_BINARY, else k6 on PATH, else .bin/k6 (./build.sh test installs it
# there). Every flag goes to the Go program: benchmarks/compare.sh -h lists them. Needs
# VictoriaMetrics (apt-get install victoria-metrics); `./build.sh compare [flags]` installs it and
# k6 when missing, then runs this script.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

die() {
	printf 'compare.sh: %s\n' "$*" >&2
	exit 1
}

if [[ -n ${K6_BINARY:-} ]]; then
	K6=$(command -v "$K6_BINARY") || die "K6_BINARY=$K6_BINARY: no such program"
elif command -v k6 >/dev/null; then
	K6=$(command -v k6)
elif [[ -x .bin/k6 ]]; then
	K6=$ROOT/.bin/k6
else
	die "no k6: set K6_BINARY, put k6 on PATH, or run ./build.sh test (installs it into .bin/)"
fi
K6=$(realpath "$K6")

if [[ -n ${PENELOPA_BIN:-} ]]; then
	[[ -x $PENELOPA_BIN ]] || die "PENELOPA_BIN=$PENELOPA_BIN is not an executable"
	PENELOPA=$(realpath "$PENELOPA_BIN")
else
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
	CGO_ENABLED=0 go build -trimpath -ldflags "-X main.version=$version" -o "$tmp/k6-penelopa" ./cmd/k6-penelopa # as build.sh builds it
	PENELOPA=$tmp/k6-penelopa
fi

cd benchmarks
go run ./cmd/compare -k6 "$K6" -penelopa "$PENELOPA" -root "$ROOT" "$@"
