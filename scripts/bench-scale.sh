#!/usr/bin/env bash
# bench-scale.sh: the scale benchmark of issue 21 for docs/benchmarks.md.
#
# Builds ./cmd/eurekad and tools/eurekabench (a module of its own) into a
# temporary directory and runs "eurekabench scale" (one eurekad per size,
# started by the tool):
#   10,000 instances, churn 0, 100, 300 and 500 changes/s;
#   100,000 instances, churn 0 and 1,000 changes/s;
#   1,000,000 instances, churn 0 and 1,000 changes/s, and on the bolt store
#   churn 0 after a timed restart (BENCH_SCALE_MILLION=1).
# Each size registers its instances over many connections, times a new
# peer's start-up sync (and, with the bolt store, a restart), then runs the
# realistic fleet open loop at each change rate: every instance heartbeats
# and polls the delta once per interval, plus full fetches. The JSON lines
# are kept and summarised as one Markdown table on stdout.
#
# Environment:
#   BENCH_SCALE_QUICK=1          10,000 instances only, 2 s warm-up, 10 s windows
#   BENCH_SCALE_MILLION=1        also the 1,000,000-instance run (long, ~10 GB peak)
#   BENCH_SCALE_STORE=memory     memory or bolt (bolt adds the restart time)
#   BENCH_SCALE_WARMUP=5s        unrecorded load before each window
#   BENCH_SCALE_DURATION=30s     measured window per change rate
#   BENCH_SCALE_FULL_RATE=2      full fetches per second
#   BENCH_SCALE_MAX_RATE=12000   cap on heartbeats+delta polls per second; a
#                                larger fleet is scaled down to it (the table
#                                says by how much). Two cores cannot offer the
#                                66,000/s of 1,000,000 instances and serve them.
#   BENCH_SCALE_OUT=FILE         keep the JSON lines there (default: temporary)
#   EUREKAD_BIN=PATH             use this eurekad binary instead of building one
#   BENCH_EUREKAD_ENV="EUREKAD_X=y ..."  extra eurekad settings
#
# Everything runs on 127.0.0.1; the servers it starts stop when it exits.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bin=${EUREKAD_BIN:-}
if [[ -z $bin ]]; then
	go build -o "$tmp/eurekad" ./cmd/eurekad
	bin=$tmp/eurekad
fi
go -C tools/eurekabench build -o "$tmp/eurekabench" .
out=${BENCH_SCALE_OUT:-$tmp/scale.jsonl}
: >"$out"

warmup=${BENCH_SCALE_WARMUP:-5s}
duration=${BENCH_SCALE_DURATION:-30s}
if [[ ${BENCH_SCALE_QUICK:-0} == 1 ]]; then
	warmup=${BENCH_SCALE_WARMUP:-2s}
	duration=${BENCH_SCALE_DURATION:-10s}
fi

# scale INSTANCES CHURN_LIST: one eurekad, one line per change rate.
# scale N RATES [FLAG...]: one scale run of N instances at the change
# rates RATES (comma-separated), with extra eurekabench flags.
scale() {
	local env=()
	for kv in ${BENCH_EUREKAD_ENV:-}; do
		env+=(--env "$kv")
	done
	echo "== $1 instances, churn $2/s ($(date -u +%H:%M:%S) UTC)" >&2
	"$tmp/eurekabench" quiet --timeout 30s >&2
	"$tmp/eurekabench" scale --eurekad "$bin" --json \
		--store "${BENCH_SCALE_STORE:-memory}" \
		--instances "$1" --churn "$2" \
		--warmup "$warmup" --duration "$duration" \
		--full-rate "${BENCH_SCALE_FULL_RATE:-2}" \
		--max-rate "${BENCH_SCALE_MAX_RATE:-12000}" \
		"${env[@]}" "${@:3}" >>"$out" || {
		# Keep the sizes measured so far: the summary below prints them.
		echo "== $1 instances FAILED" >&2
		failed+=("$1 instances")
	}
}
failed=()

scale 10000 0,100,300,500
if [[ ${BENCH_SCALE_QUICK:-0} != 1 ]]; then
	scale 100000 0,1000
	if [[ ${BENCH_SCALE_MILLION:-0} == 1 ]]; then
		scale 1000000 0,1000
		# The default store at the same size: its restart, and its memory
		# in a quiet window after that restart (the peer sync is the same
		# as above).
		BENCH_SCALE_STORE=bolt scale 1000000 0 --peer=false
	fi
fi
echo >&2
echo "$(nproc) cores; $(date -u '+%Y-%m-%d %H:%M') UTC; warm-up $warmup, window $duration per change rate" >&2
"$tmp/eurekabench" scale-summary "$out"
if [[ ${#failed[@]} -gt 0 ]]; then
	echo "FAILED: ${failed[*]}" >&2
	exit 1
fi
