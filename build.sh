#!/usr/bin/env bash
# build.sh: build k6-penelopa, install what its tests need, run the checks, or show a demo.
#
#   ./build.sh          build ./k6-penelopa
#   ./build.sh test     install k6 and the receivers if missing, build, then run every check:
#                       gofmt, go vet, staticcheck, the AGPL boundary, unit tests, short fuzz
#                       runs and the end-to-end suite against Prometheus and VictoriaMetrics
#   ./build.sh demo     run examples/test-script.js into a local VictoriaMetrics and print what
#                       arrived
#   ./build.sh compare [flags]
#                       install k6 and VictoriaMetrics if missing, then run the whole-process
#                       comparison (benchmarks/compare.sh; -h lists its flags)
#
# Environment: K6_BINARY (the stock k6 to use), PENELOPA_BIN (use this k6-penelopa instead of
# building one), FUZZTIME (per fuzz target, default 10s), DEMO_TARGET (host:port for the demo's
# HTTP target, default 127.0.0.1:8080).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT=$PWD
K6_VERSION=v1.8.1
STATICCHECK=honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Modules whose licence (AGPL) this project takes none of; see README.md, "Why beside stock k6".
# k6 under its module path and its old one, the AGPL Grafana projects, and every
# github.com/grafana/xk6-* extension (most are AGPL, and all build on k6's packages).
FORBIDDEN_MODULES='(^|[[:space:]"])((go\.k6\.io/k6|github\.com/loadimpact/k6|github\.com/grafana/(grafana|loki|tempo|mimir|pyroscope))([/@[:space:]"]|$)|github\.com/grafana/xk6-)'

say() { printf 'build.sh: %s\n' "$*" >&2; }
die() {
	say "$*"
	exit 1
}

# build compiles the launcher into ./k6-penelopa, stamped with the source version, unless
# PENELOPA_BIN names one to use instead.
build() {
	if [[ -n ${PENELOPA_BIN:-} ]]; then
		[[ -x $PENELOPA_BIN ]] || die "PENELOPA_BIN=$PENELOPA_BIN is not an executable"
		PENELOPA_BIN=$(realpath "$PENELOPA_BIN")
		return
	fi
	local version
	version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
	# A static binary, as in the Dockerfile: runs on any Linux, and without libc mapped it
	# starts with ~2 MiB less resident memory.
	CGO_ENABLED=0 go build -trimpath -ldflags "-X main.version=$version" -o ./k6-penelopa ./cmd/k6-penelopa
	PENELOPA_BIN=$ROOT/k6-penelopa
}

# ensure_k6 finds the stock k6 (K6_BINARY, k6 on PATH, .bin/k6) or installs the pinned release
# into .bin/, and exports K6_BINARY.
ensure_k6() {
	if [[ -n ${K6_BINARY:-} ]]; then
		K6_BINARY=$(command -v "$K6_BINARY") || die "K6_BINARY=$K6_BINARY: no such program"
		K6_BINARY=$(realpath "$K6_BINARY")
		check_k6_version
	elif command -v k6 >/dev/null; then
		K6_BINARY=$(command -v k6)
		check_k6_version
	elif [[ -x .bin/k6 ]]; then
		K6_BINARY=$ROOT/.bin/k6
		check_k6_version
	else
		say "installing stock k6 $K6_VERSION into .bin/ (go install go.k6.io/k6@$K6_VERSION, outside this module)"
		local tmp
		tmp=$(mktemp -d)
		# A temp dir and these settings keep the install out of every go.mod and go.work.
		(cd "$tmp" && GOBIN=$ROOT/.bin GOFLAGS=-mod=mod GOWORK=off go install "go.k6.io/k6@$K6_VERSION") || {
			rm -rf "$tmp"
			die "go install go.k6.io/k6@$K6_VERSION failed (output above)"
		}
		rm -rf "$tmp"
		K6_BINARY=$ROOT/.bin/k6
		say "k6 is at $K6_BINARY: ./k6-penelopa finds it in .bin/ beside itself; a launcher elsewhere needs .bin on PATH or K6_BINARY=$K6_BINARY"
	fi
	export K6_BINARY
}

# check_k6_version warns when K6_BINARY is not the pinned release: penelopa reads any k6's
# stream, but the tests and their testdata are tied to the pinned one (its output's layout,
# its summary). It does not stop: the build and most checks work with any k6.
check_k6_version() {
	local have
	have=$("$K6_BINARY" version 2>/dev/null | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^v[0-9]/) { print $i; exit } }') || true
	if [[ $have != "$K6_VERSION" ]]; then
		say "warning: $K6_BINARY is k6 ${have:-of unknown version}, not $K6_VERSION, which the tests and testdata are tied to; going on (K6_BINARY can name a $K6_VERSION)"
	fi
}

# ensure_packages installs the Debian packages that provide the given programs, if any is missing.
# Usage: ensure_packages program:package ...
ensure_packages() {
	local want missing=() pkg
	for want in "$@"; do
		command -v "${want%%:*}" >/dev/null || missing+=("${want#*:}")
	done
	((${#missing[@]})) || return 0
	command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install them with"
	local sudo=()
	if ((EUID != 0)); then
		command -v sudo >/dev/null ||
			die "missing ${missing[*]}; installing them needs root and there is no sudo: run as root, or install them first (apt-get install ${missing[*]})"
		sudo=(sudo)
	fi
	for pkg in "${missing[@]}"; do
		if ! apt-cache show "$pkg" >/dev/null 2>&1; then
			say "apt-get update (the package lists do not know $pkg yet)"
			"${sudo[@]}" apt-get update -qq
			break
		fi
	done
	say "installing ${missing[*]} with apt-get"
	local install=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}")
	if ! "${install[@]}" >/dev/null; then
		say "apt-get install failed; retrying after apt-get update (the package lists may be stale)"
		"${sudo[@]}" apt-get update -qq
		"${install[@]}" >/dev/null
	fi
}

# check_boundary fails if any go.mod or go.sum in the repository names an AGPL module.
check_boundary() {
	local hits
	hits=$(find . \( -name .git -o -name .bin -o -name .work \) -prune -o \
		\( -name go.mod -o -name go.sum -o -name go.work -o -name go.work.sum \) -print0 |
		xargs -0 -r grep -EnH "$FORBIDDEN_MODULES" || true)
	if [[ -n $hits ]]; then
		printf '%s\n' "$hits" >&2
		die "an AGPL module is named above: k6 runs beside penelopa as a program, never as a Go dependency"
	fi
}

# fuzz gives every Fuzz target in the module a short bounded run.
fuzz() {
	local fuzztime=${FUZZTIME:-10s} fuzzlog rc=0
	fuzzlog=$(mktemp)
	go test -list '^Fuzz' ./... | awk '
		/^Fuzz/ { names[n++] = $1; next }
		/^ok/   { for (i = 0; i < n; i++) print $2, names[i]; n = 0 }' |
		while read -r pkg name; do
			say "fuzzing $pkg $name for $fuzztime"
			fuzz_one "$pkg" "$name" "$fuzztime" "$fuzzlog" && continue
			# Go 1.26's fuzz coordinator can report its own -fuzztime deadline as a failure
			# (golang/go#75804, fixed in Go 1.27), with no failing input written. That, and
			# only that, gets one more run.
			if ! grep -q 'context deadline exceeded' "$fuzzlog" || grep -q 'Failing input written' "$fuzzlog"; then
				exit 1
			fi
			say "$name: Go's -fuzztime deadline race (golang/go#75804), no failing input; running it once more"
			fuzz_one "$pkg" "$name" "$fuzztime" "$fuzzlog" || exit 1
		done || rc=$?
	rm -f "$fuzzlog"
	return "$rc"
}

# fuzz_one runs one fuzz target, its output also in log.
# Usage: fuzz_one package name fuzztime log
fuzz_one() {
	# Minimizing a new interesting input may take up to a minute by default, which a 10 s run
	# would spend at 0 execs/s; cap it so the time goes to fuzzing.
	go test -run '^$' -fuzz "^${2}\$" -fuzztime "$3" -fuzzminimizetime 1s "$1" </dev/null 2>&1 | tee "$4"
}

run_tests() {
	ensure_k6
	ensure_packages prometheus:prometheus victoria-metrics:victoria-metrics
	build

	say "gofmt"
	local unformatted gofmt=gofmt
	# Go's own tarball puts gofmt beside go in $GOROOT/bin, which PATH may not name.
	command -v gofmt >/dev/null || gofmt=$(go env GOROOT)/bin/gofmt
	unformatted=$(find . \( -name .git -o -name .bin -o -name .work \) -prune -o -name '*.go' -print0 | xargs -0 "$gofmt" -l)
	[[ -z $unformatted ]] || die "not gofmt-formatted (run gofmt -w):"$'\n'"$unformatted"

	say "go vet"
	go vet ./...
	go vet -tags e2e ./e2e/...
	# benchmarks/ is a module of its own (its reference dependencies stay out of ours), so
	# ./... does not reach it.
	go -C benchmarks vet ./...

	say "staticcheck"
	go run "$STATICCHECK" ./...
	go run "$STATICCHECK" -tags e2e ./e2e/...
	(cd benchmarks && go run "$STATICCHECK" ./...)

	say "AGPL boundary"
	check_boundary

	say "unit tests"
	go test -count=1 -timeout 5m ./...
	# The table is shared by ingest and the flush without a lock on the hot path (epochs, CAS):
	# the packages that share memory between goroutines run again under the race detector.
	say "race detector: series, ingest, sender, pool, encoder, output"
	go test -race -count=1 -timeout 10m ./series ./ingest ./sender ./pool ./encoder .
	say "benchmarks module: reference decoders and zero-allocation checks"
	go test -C benchmarks -count=1 -timeout 5m ./...

	fuzz

	say "end-to-end tests (k6: $K6_BINARY, k6-penelopa: $PENELOPA_BIN)"
	PENELOPA_BIN=$PENELOPA_BIN go test -tags e2e -count=1 -timeout 20m -v ./e2e/...
}

# demo runs the example script through k6-penelopa into VictoriaMetrics and prints what arrived.
demo() {
	ensure_k6
	ensure_packages victoria-metrics:victoria-metrics
	build

	local vm=127.0.0.1:8428 target=${DEMO_TARGET:-127.0.0.1:8080}
	# Globals, not locals: the EXIT trap runs after this function has returned.
	tmp=$(mktemp -d)
	pids=()
	# shellcheck disable=SC2317 # called by the trap
	cleanup() {
		local pid
		for pid in "${pids[@]}"; do
			kill "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		done
		rm -rf "$tmp"
	}
	trap cleanup EXIT

	if http_ok "$vm" /health; then
		say "using the VictoriaMetrics already answering on $vm"
	else
		say "starting VictoriaMetrics on $vm (storage in $tmp/vm)"
		victoria-metrics -httpListenAddr="$vm" -storageDataPath="$tmp/vm" -retentionPeriod=100y \
			-search.latencyOffset=0s -search.disableCache >"$tmp/vm.log" 2>&1 &
		pids+=($!)
		wait_for "$vm" /health "$tmp/vm.log" "$!"
	fi

	if http_ok "$target" /; then
		die "something already answers on $target; choose another address with DEMO_TARGET=host:port"
	fi
	say "starting the example target on $target"
	go build -o "$tmp/target" ./examples/target
	"$tmp/target" -addr "$target" 2>"$tmp/target.log" &
	pids+=($!)
	wait_for "$target" / "$tmp/target.log" "$!"

	local start code=0 penelopa
	start=$(date +%s)
	say "running: k6-penelopa run --out penelopa=http://$vm/api/v1/write examples/test-script.js"
	# In the background, so that a SIGTERM to this script reaches k6-penelopa (which stops k6
	# gracefully and delivers what is left) instead of leaving it and its k6 running while the
	# EXIT trap stops the receiver and the target. A terminal's Ctrl-C reaches k6-penelopa
	# directly (one process group), so INT only has to keep this script alive until it is done.
	K6_NO_USAGE_REPORT=true TARGET_URL="http://$target" PENELOPA_TREND_STATS='p(95),p(99),avg' \
		"$PENELOPA_BIN" run --out "penelopa=http://$vm/api/v1/write" examples/test-script.js &
	penelopa=$!
	pids+=("$penelopa")
	# shellcheck disable=SC2064 # expand the pid now
	trap "kill -TERM $penelopa 2>/dev/null || true" TERM
	trap : INT
	wait_pid "$penelopa" || code=$?
	trap - TERM INT
	say "k6-penelopa exited with code $code; what VictoriaMetrics received:"
	go run ./e2e/cmd/report -url "http://$vm" -since "$start"
	return "$code"
}

# wait_pid waits for the background process pid and returns its exit code. A trapped signal
# interrupts wait (which then returns 128+n while pid still runs): wait again.
wait_pid() {
	local rc again
	while :; do
		rc=0
		wait "$1" || rc=$?
		((rc > 128)) || return "$rc"
		kill -0 "$1" 2>/dev/null && continue
		# pid has ended: rc is its own code, or a signal interrupted wait just before it ended,
		# and then bash still holds its code for a second wait (which otherwise fails with 127).
		again=0
		wait "$1" 2>/dev/null || again=$?
		((again == 127)) && return "$rc"
		return "$again"
	done
}

# http_ok tells whether an HTTP server on host:port answers GET path with 200 (no curl needed).
http_ok() {
	local status
	status=$(
		exec 2>/dev/null
		exec 3<>"/dev/tcp/${1%:*}/${1##*:}" || exit 1
		printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$2" "$1" >&3
		read -r -t 2 _ code _ <&3 && printf '%s' "$code"
	) || return 1
	[[ $status == 200 ]]
}

# wait_for waits up to 30 s for the process pid to answer GET path on host:port; on failure it
# prints the process's log.
# Usage: wait_for host:port path log pid
wait_for() {
	local i
	for ((i = 0; i < 300; i++)); do
		kill -0 "$4" 2>/dev/null || break
		http_ok "$1" "$2" && return 0
		sleep 0.1
	done
	cat "$3" >&2
	die "http://$1$2 did not answer within 30 s, or its process exited (log above)"
}

case ${1:-build} in
build)
	ensure_k6
	build
	;;
test) run_tests ;;
demo) demo ;;
compare)
	ensure_k6
	ensure_packages victoria-metrics:victoria-metrics
	shift
	exec benchmarks/compare.sh "$@"
	;;
-h | --help | help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0" ;;
*) die "unknown command ${1}; use: ./build.sh [build|test|demo|compare]" ;;
esac
