#!/usr/bin/env bash
# bench.sh: compare eurekad with the gorilla/mux baseline (make bench).
#
# Builds ./cmd/eurekad and tools/eurekabench (a module of its own) into a
# temporary directory, then for each scenario alternates baseline and eurekad
# runs, each against a fresh server process on a free loopback port, and
# prints the medians as a Markdown table with the eurekad/baseline ratio and
# the target. Then it times how fast a change becomes visible in eurekad's
# /apps and /apps/delta, compares eurekad's stores with its memory store
# (scripts/bench-storage.sh: register and renew throughput, restart of 100,000
# instances, memory), runs the Go micro-benchmarks of ./core/... and
# ./sdk/..., a 3-node cluster's replication (eurekabench cluster) and the
# scale benchmark (scripts/bench-scale.sh). The method is described in
# docs/benchmarks.md.
#
# Environment:
#   BENCH_QUICK=1          smoke run of about a minute (1 round, 3 s runs)
#   BENCH_ROUNDS=N         rounds per scenario and server (default 3)
#   BENCH_DURATION=8s      measured time per run
#   BENCH_CONCURRENCY=16   workers (connections) per run
#   BENCH_SCENARIOS="renew register fetch-full delta visibility"
#   BENCH_OUT=FILE         also keep the raw JSON results in FILE
#   BENCH_QUIET_WAIT=20    longest wait (s) for other processes to leave the
#                          CPUs idle before each run
#   BENCH_RETRIES=2        repeats of a run other processes disturbed (>10 %
#                          of the machine)
#   BENCH_SLACK=90         seconds all such waits and repeats may add in total
#                          (quick: 20)
#   EUREKAD_BIN=PATH       use this eurekad binary instead of building one
#   BENCH_EUREKAD_ENV="EUREKAD_X=y ..."
#                          extra settings for eurekad against the baseline
#                          (default: EUREKAD_STORAGE_KIND=memory, like for
#                          like with the baseline's map; what the stores cost
#                          is the storage comparison's job)
#   BENCH_GOBENCH=0        skip the Go micro-benchmarks
#   BENCH_STORAGE=0        skip the storage comparison (about 5 minutes;
#                          quick: 1.5); its own knobs are described in
#                          scripts/bench-storage.sh
#   BENCH_CLUSTER=0        skip the 3-node replication run (about 1 minute)
#   BENCH_SCALE=0          skip the scale benchmark (scripts/bench-scale.sh,
#                          about 8 minutes; BENCH_SCALE_MILLION=1 adds the
#                          1,000,000-instance run, about 12 more; quick:
#                          10,000 instances only)
#
# Everything runs on 127.0.0.1; every server this script starts is stopped
# when it exits, however it exits.
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$(pwd)

if [ "${BENCH_QUICK:-0}" = 1 ]; then
	rounds=${BENCH_ROUNDS:-1}
	duration=${BENCH_DURATION:-3s}
	warmup=500ms
	slack=${BENCH_SLACK:-20}
	vis_iters=50
	vis_limit=20s
	gobenchtime=100ms
	cluster_flags="--instances 2000 --interval 5s --duration 5s --idle-probes 20"
else
	rounds=${BENCH_ROUNDS:-3}
	duration=${BENCH_DURATION:-8s}
	warmup=1s
	slack=${BENCH_SLACK:-90}
	vis_iters=200
	vis_limit=60s
	gobenchtime=500ms
	cluster_flags="--instances 10000 --interval 5s --duration 15s --idle-probes 200"
fi
concurrency=${BENCH_CONCURRENCY:-16}
quiet_wait=${BENCH_QUIET_WAIT:-20}
retries=${BENCH_RETRIES:-2}
max_other=10
spent=0

# Waiting for a quiet machine and repeating disturbed runs come out of a
# fixed slack, so a busy machine cannot stretch the total run time by more.
slack_left() { echo $((slack - spent)); }
min() { if [ "$1" -lt "$2" ]; then echo "$1"; else echo "$2"; fi; }
scenarios=${BENCH_SCENARIOS:-renew register fetch-full delta visibility}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/eurekabench.XXXXXX")
server_pid=""
child_pid=""
failed=()

# fg CMD...: run a long eurekabench step in the background and wait for it,
# so a TERM or INT to this script runs the cleanup at once instead of after
# the step (bash defers traps until a foreground command ends).
fg() {
	"$@" &
	child_pid=$!
	local rc=0
	wait "$child_pid" || rc=$?
	child_pid=""
	return "$rc"
}

# step WHAT CMD...: run a step of its own with fg, noting WHAT among the
# failed runs if it fails.
step() {
	local what=$1 rc=0
	shift
	fg "$@" || rc=$?
	if [ "$rc" != 0 ]; then
		failed+=("$what: exit $rc")
	fi
}

stop_server() {
	if [ -n "$server_pid" ]; then
		if kill -0 "$server_pid" 2>/dev/null; then
			kill -TERM "$server_pid" 2>/dev/null || true
			for _ in $(seq 50); do
				kill -0 "$server_pid" 2>/dev/null || break
				sleep 0.1
			done
			kill -KILL "$server_pid" 2>/dev/null || true
		fi
		wait "$server_pid" 2>/dev/null || true
		server_pid=""
	fi
}
cleanup() {
	if [ -n "$child_pid" ]; then
		kill -TERM "$child_pid" 2>/dev/null || true
	fi
	stop_server
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building into $tmp ..." >&2
go -C tools/eurekabench build -o "$tmp/eurekabench" .
if [ -n "${EUREKAD_BIN:-}" ]; then
	cp "$EUREKAD_BIN" "$tmp/eurekad"
else
	go build -o "$tmp/eurekad" ./cmd/eurekad
fi
eb=$tmp/eurekabench
results=$tmp/results.jsonl
: >"$results"

# start_server KIND: start a fresh baseline or eurekad on a free loopback
# port, set server_pid and target, and wait until GET /apps answers.
start_server() {
	local kind=$1 port
	port=$("$eb" freeport)
	target=http://127.0.0.1:$port/eureka
	case $kind in
	baseline)
		"$eb" baseline --addr "127.0.0.1:$port" >"$tmp/server.log" 2>&1 &
		;;
	eurekad)
		# An empty working directory per run, so a store kept under
		# ./data never carries state from one run into the next.
		# Self-preservation only decides whether expired leases are
		# evicted, and none expire within a run (90 s leases, first
		# eviction pass after 60 s); off, it is simply out of the picture.
		# Started from that directory directly (no subshell; env execs the
		# server), so $! is the server itself and stop_server signals the
		# right process.
		local dir
		dir=$(mktemp -d "$tmp/eurekad.XXXXXX")
		cd "$dir"
		# shellcheck disable=SC2086 # BENCH_EUREKAD_ENV is a list of words
		env EUREKAD_REGISTRY_ENABLE_SELF_PRESERVATION=false ${BENCH_EUREKAD_ENV:-EUREKAD_STORAGE_KIND=memory} \
			"$tmp/eurekad" --addr "127.0.0.1:$port" >"$tmp/server.log" 2>&1 &
		cd "$repo"
		;;
	esac
	server_pid=$!
	if ! fg "$eb" wait --target "$target" --timeout 30s; then
		echo "$kind did not start; its log:" >&2
		tail -n 20 "$tmp/server.log" >&2 || true
		stop_server
		return 1
	fi
}

# bench KIND SCENARIO ROUND [extra run flags]: one run against a fresh server.
# A run during which other processes took more than max_other % of the
# machine is repeated (up to retries times); the last attempt is kept
# whatever happened, and the summary flags it.
bench() {
	local kind=$1 scenario=$2 round=$3 attempt rc t0 t1
	shift 3
	for attempt in $(seq $((retries + 1))); do
		echo "--- $scenario / $kind / round $round, attempt $attempt" >&2
		# Let someone else's build finish first, out of the slack.
		t0=$(date +%s)
		if [ "$(slack_left)" -gt 0 ]; then
			fg "$eb" quiet --max-busy 15 --timeout "$(min "$quiet_wait" "$(slack_left)")s"
		fi
		t1=$(date +%s)
		spent=$((spent + t1 - t0))
		if ! start_server "$kind"; then
			failed+=("$scenario/$kind/$round: server did not start")
			return 0
		fi
		rc=0
		fg "$eb" run --target "$target" --label "$kind" --scenario "$scenario" --server-pid "$server_pid" \
			--concurrency "$concurrency" --warmup "$warmup" --max-other-cpu "$max_other" \
			--json "$@" >"$tmp/run.json" || rc=$?
		stop_server
		if [ "$rc" = 4 ] && [ "$attempt" -le "$retries" ] && [ "$(slack_left)" -gt 0 ]; then
			spent=$((spent + $(date +%s) - t1))
			echo "    disturbed by other processes; repeating ($(slack_left) s of slack left)" >&2
			continue
		fi
		if [ "$rc" != 0 ] && [ "$rc" != 4 ]; then
			failed+=("$scenario/$kind/$round: run failed (exit $rc)")
			echo "server log:" >&2
			tail -n 20 "$tmp/server.log" >&2 || true
		fi
		cat "$tmp/run.json" >>"$results"
		return 0
	done
}

start=$(date +%s)
for scenario in $scenarios; do
	for round in $(seq "$rounds"); do
		if [ "$scenario" = visibility ]; then
			# Not meaningful for the baseline, whose payload is static.
			bench eurekad visibility "$round" --duration "$vis_limit" --iterations "$vis_iters"
			continue
		fi
		# Alternate which server goes first so neither always runs on a
		# warmer (or hotter) machine.
		if [ $((round % 2)) = 1 ]; then order="baseline eurekad"; else order="eurekad baseline"; fi
		for kind in $order; do
			bench "$kind" "$scenario" "$round" --duration "$duration"
		done
	done
done

echo
echo "## eurekad vs gorilla/mux baseline"
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(go version | cut -d' ' -f3), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), load average at the end $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)."
echo "Command: ${BENCH_QUICK:+BENCH_QUICK=$BENCH_QUICK }scripts/bench.sh (rounds $rounds, $duration per run, concurrency $concurrency; medians)."
echo
"$eb" summary "$results"
if [ -n "${BENCH_OUT:-}" ]; then
	cp "$results" "$BENCH_OUT"
fi
echo
echo "load runs took $(($(date +%s) - start)) s"

if [ "${BENCH_STORAGE:-1}" != 0 ]; then
	# Same binaries; the storage script has its own rounds, fresh servers
	# (and redis-servers), slack and cleanup.
	step "storage comparison (see its FAILED STORAGE RUNS)" \
		env EUREKAD_BIN="$tmp/eurekad" EUREKABENCH_BIN="$eb" scripts/bench-storage.sh
fi

if [ "${BENCH_GOBENCH:-1}" != 0 ]; then
	echo
	echo "## Go micro-benchmarks (./core/... ./sdk/...)"
	echo
	echo '```'
	go test -run '^$' -bench . -benchmem -benchtime "$gobenchtime" -timeout 5m ./core/... ./sdk/... 2>&1 |
		grep -Ev '^(\?|ok|PASS)\b|no test files' || true
	echo '```'
fi

if [ "${BENCH_CLUSTER:-1}" != 0 ]; then
	echo
	echo "## Replication: a 3-node cluster"
	echo
	echo "Command: eurekabench cluster --eurekad BIN $cluster_flags"
	echo
	echo '```'
	# shellcheck disable=SC2086
	step cluster "$eb" cluster --eurekad "$tmp/eurekad" $cluster_flags
	echo '```'
fi

if [ "${BENCH_SCALE:-1}" != 0 ]; then
	echo
	echo "## Scale"
	echo
	step scale env EUREKAD_BIN="$tmp/eurekad" BENCH_SCALE_QUICK="${BENCH_SCALE_QUICK:-${BENCH_QUICK:-0}}" scripts/bench-scale.sh
fi

if [ ${#failed[@]} -gt 0 ]; then
	echo
	echo "FAILED RUNS:"
	printf '  %s\n' "${failed[@]}"
	exit 1
fi
