#!/usr/bin/env bash
# bench-storage.sh: eurekad's persistent stores against its memory store, in
# the same run (scripts/bench.sh calls it; it also runs on its own).
#
# 1. Throughput: for each load (register at 64 and 16 workers, renew at 16)
#    and each store configuration, a run of `eurekabench run` against a
#    fresh eurekad (and, for Redis, a fresh redis-server), rounds rotating
#    the order of the configurations. Medians, ratio to memory, targets.
#    renew gets more rounds: its target (0.95x) is closer to 1 than this
#    machine's run-to-run noise.
# 2. Fleet: `eurekabench fleet` registers 100,000 instances into an eurekad it
#    starts, reads its memory once idle after a full fetch, stops it with
#    SIGTERM, starts it again on the same data and times it to listening and
#    to serving all instances (memory: no restart).
# The method and the results are in docs/benchmarks.md, section "Storage".
#
# Store configurations (BENCH_STORAGE_CONFIGS), named KIND[-DURABILITY[-FSYNC]]:
#   memory                 EUREKAD_STORAGE_KIND=memory
#   bolt-sync, bolt-async  bbolt under the run's directory, that durability
#   boltiso-sync           bolt-sync with the store isolated in a plugin
#                          process (EUREKAD_PLUGINS_ISOLATE_BUILTINS=true);
#                          its CPU is reported as the store's
#   authplugin             memory, every request authenticated by
#                          examples/auth-plugin (a subprocess, its CPU the
#                          store's) with basic credentials, apps ORDERS-*
#   redis-sync-everysec    Redis store, durability sync, against a
#                          redis-server started here with --appendonly yes
#                          --appendfsync everysec (-always: appendfsync always)
#
# Environment:
#   BENCH_QUICK=1                 smoke run of about a minute and a half (1
#                                 round, 2 s runs, a fleet of 20,000)
#   BENCH_STORAGE_LOADS="register:64:3 register:16:2 renew:16:4"
#                                 scenario:concurrency[:rounds]
#   BENCH_STORAGE_ROUNDS=N        rounds of every load (overrides the above)
#   BENCH_STORAGE_DURATION=3s     measured time per run
#   BENCH_STORAGE_CONFIGS="memory bolt-sync bolt-async redis-sync-everysec redis-sync-always"
#   BENCH_FLEET_STORES="memory bolt redis"   fleet runs ("" for none)
#   BENCH_FLEET_INSTANCES=100000  BENCH_FLEET_CONCURRENCY=64
#   BENCH_STORAGE_OUT=FILE        also keep the raw JSON results in FILE
#   BENCH_QUIET_WAIT=20           longest wait (s) for an idle machine per run
#   BENCH_RETRIES=2               repeats of a run others disturbed (>10 %)
#   BENCH_STORAGE_SLACK=60        seconds such waits and repeats may add (quick: 20)
#   EUREKAD_BIN, EUREKABENCH_BIN  prebuilt binaries (default: build them)
#   BENCH_EUREKAD_ENV="EUREKAD_X=y ..."  extra eurekad settings (the store
#                                 settings of each configuration win)
#
# Everything runs on 127.0.0.1; every process this script starts (eurekad,
# redis-server, eurekabench) is stopped when it exits, however it exits.
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$(pwd)

if [ "${BENCH_QUICK:-0}" = 1 ]; then
	rounds=${BENCH_STORAGE_ROUNDS:-1}
	duration=${BENCH_STORAGE_DURATION:-2s}
	warmup=500ms
	slack=${BENCH_STORAGE_SLACK:-20}
	fleet_n=${BENCH_FLEET_INSTANCES:-20000}
else
	rounds=${BENCH_STORAGE_ROUNDS:-}
	duration=${BENCH_STORAGE_DURATION:-3s}
	warmup=1s
	slack=${BENCH_STORAGE_SLACK:-60}
	fleet_n=${BENCH_FLEET_INSTANCES:-100000}
fi
configs=${BENCH_STORAGE_CONFIGS:-memory bolt-sync bolt-async redis-sync-everysec redis-sync-always}
loads=${BENCH_STORAGE_LOADS:-register:64:3 register:16:2 renew:16:4}
fleets=${BENCH_FLEET_STORES-memory bolt redis}
fleet_c=${BENCH_FLEET_CONCURRENCY:-64}
quiet_wait=${BENCH_QUIET_WAIT:-20}
retries=${BENCH_RETRIES:-2}
max_other=10
spent=0

slack_left() { echo $((slack - spent)); }
min() { if [ "$1" -lt "$2" ]; then echo "$1"; else echo "$2"; fi; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/eurekabench-storage.XXXXXX")
server_pid=""
redis_pid=""
cfg_args=()   # eurekad's arguments, wait_args and bench_args eurekabench's,
wait_args=()  # per configuration (store_env)
bench_args=()
child_pid=""
failed=()

# fg CMD...: run a long step in the background and wait for it, so a TERM or
# INT runs the cleanup at once (bash defers traps until a foreground command
# ends).
fg() {
	"$@" &
	child_pid=$!
	local rc=0
	wait "$child_pid" || rc=$?
	child_pid=""
	return "$rc"
}

# stop_pid PID: SIGTERM, up to 10 s for a clean exit, then SIGKILL.
stop_pid() {
	local pid=$1
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}
stop_server() {
	if [ -n "$server_pid" ]; then
		stop_pid "$server_pid"
		server_pid=""
	fi
}
stop_redis() {
	if [ -n "$redis_pid" ]; then
		stop_pid "$redis_pid"
		redis_pid=""
	fi
}
cleanup() {
	if [ -n "$child_pid" ]; then
		# eurekabench fleet kills its servers on TERM (and, on Linux, they
		# die with it anyway: parent-death signal).
		kill -TERM "$child_pid" 2>/dev/null || true
		wait "$child_pid" 2>/dev/null || true
	fi
	stop_server
	stop_redis
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "${EUREKABENCH_BIN:-}" ]; then
	cp "$EUREKABENCH_BIN" "$tmp/eurekabench"
else
	echo "building eurekabench into $tmp ..." >&2
	go -C tools/eurekabench build -o "$tmp/eurekabench" .
fi
tree="commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' with uncommitted changes')"
if [ -n "${EUREKAD_BIN:-}" ]; then
	cp "$EUREKAD_BIN" "$tmp/eurekad"
	origin="eurekad from EUREKAD_BIN=$EUREKAD_BIN (the working tree is at $tree)"
else
	origin="eurekad built from the working tree at $tree"
	echo "building eurekad into $tmp ..." >&2
	go build -o "$tmp/eurekad" ./cmd/eurekad
fi
eb=$tmp/eurekabench
results=$tmp/results.jsonl
: >"$results"

needs_redis=0
case " $configs $fleets " in *" redis"*) needs_redis=1 ;; esac
if [ "$needs_redis" = 1 ] && ! command -v redis-server >/dev/null; then
	echo "redis-server not found (make deps installs it); skipping the Redis configurations" >&2
	configs=$(echo "$configs" | tr ' ' '\n' | grep -v '^redis' | tr '\n' ' ')
	fleets=$(echo "$fleets" | tr ' ' '\n' | grep -v '^redis' | tr '\n' ' ')
	failed+=("redis: redis-server not installed")
fi

# start_redis FSYNC: a fresh redis-server (own directory, free port, AOF on
# with appendfsync FSYNC, no RDB snapshots); sets redis_pid and redis_url.
start_redis() {
	local fsync=$1 dir port
	dir=$(mktemp -d "$tmp/redis.XXXXXX")
	port=$("$eb" freeport)
	redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --daemonize no \
		--save "" --appendonly yes --appendfsync "$fsync" --logfile "$dir/redis.log" &
	redis_pid=$!
	redis_url=redis://127.0.0.1:$port/0
	if ! fg "$eb" redis-wait --addr "127.0.0.1:$port" --timeout 10s; then
		echo "redis-server did not start; its log:" >&2
		tail -n 20 "$dir/redis.log" >&2 || true
		stop_redis
		return 1
	fi
}

# store_env CONFIG DURABILITY_DEFAULT: the EUREKAD_* settings of a
# configuration (starting redis-server if it needs one). Sets cfg_env.
store_env() {
	local config=$1 kind durability fsync
	cfg_args=()
	wait_args=()
	bench_args=()
	IFS=- read -r kind durability fsync <<<"$config"
	durability=${durability:-$2}
	case $kind in
	memory)
		cfg_env="EUREKAD_STORAGE_KIND=memory"
		;;
	authplugin)
		if [ ! -x "$tmp/auth-plugin" ]; then
			go build -o "$tmp/auth-plugin" ./examples/auth-plugin || return 1
			printf 'orders:o-secret\n' >"$tmp/teams"
			printf 'plugins:\n  auth:\n    plugin: %s\n    config: {users_file: %s}\n' "$tmp/auth-plugin" "$tmp/teams" >"$tmp/auth.yaml"
		fi
		cfg_env="EUREKAD_STORAGE_KIND=memory"
		cfg_args=(--config "$tmp/auth.yaml")
		wait_args=(--basic-auth orders:o-secret)
		bench_args=("${wait_args[@]}" --app-prefix ORDERS-)
		;;
	bolt | boltiso)
		# The run's working directory is fresh: its ./data is empty.
		cfg_env="EUREKAD_STORAGE_KIND=bolt EUREKAD_STORAGE_DATA_DIR=./data EUREKAD_STORAGE_DURABILITY=$durability"
		if [ "$kind" = boltiso ]; then
			cfg_env+=" EUREKAD_PLUGINS_ISOLATE_BUILTINS=true"
		fi
		;;
	redis)
		start_redis "${fsync:-everysec}" || return 1
		cfg_env="EUREKAD_STORAGE_KIND=redis EUREKAD_STORAGE_REDIS_URL=$redis_url EUREKAD_STORAGE_DURABILITY=$durability"
		;;
	*)
		echo "unknown store configuration $config" >&2
		return 1
		;;
	esac
}

# start_eurekad CONFIG: a fresh eurekad in an empty directory on a free
# port (and its redis-server); sets server_pid and target.
start_eurekad() {
	local config=$1 port dir
	store_env "$config" sync || return 1
	port=$("$eb" freeport)
	target=http://127.0.0.1:$port/eureka
	dir=$(mktemp -d "$tmp/eurekad.XXXXXX")
	cd "$dir"
	# shellcheck disable=SC2086 # lists of words
	env EUREKAD_REGISTRY_ENABLE_SELF_PRESERVATION=false ${BENCH_EUREKAD_ENV:-} $cfg_env \
		"$tmp/eurekad" --addr "127.0.0.1:$port" "${cfg_args[@]}" >"$tmp/server.log" 2>&1 &
	server_pid=$!
	cd "$repo"
	if ! fg "$eb" wait --target "$target" --timeout 30s "${wait_args[@]}"; then
		echo "eurekad ($config) did not start; its log:" >&2
		tail -n 20 "$tmp/server.log" >&2 || true
		stop_server
		stop_redis
		return 1
	fi
}

quiet() {
	local t0 t1
	t0=$(date +%s)
	if [ "$(slack_left)" -gt 0 ]; then
		fg "$eb" quiet --max-busy 15 --timeout "$(min "$quiet_wait" "$(slack_left)")s"
	fi
	t1=$(date +%s)
	spent=$((spent + t1 - t0))
}

# bench CONFIG SCENARIO CONCURRENCY ROUND: one run against a fresh server,
# repeated (out of the slack) when other processes disturbed it.
bench() {
	local config=$1 scenario=$2 conc=$3 round=$4 attempt rc t1 store_flag
	for attempt in $(seq $((retries + 1))); do
		echo "--- $scenario c=$conc / $config / round $round, attempt $attempt" >&2
		quiet
		t1=$(date +%s)
		if ! start_eurekad "$config"; then
			failed+=("$scenario c=$conc/$config/$round: server did not start")
			return 0
		fi
		store_flag=()
		if [ -n "$redis_pid" ]; then store_flag=(--store-pid "$redis_pid"); fi
		case $config in
		boltiso-* | authplugin) # the plugin process eurekad started
			store_flag=(--store-pid "$(pgrep -P "$server_pid" | head -n 1)") ;;
		esac
		rc=0
		fg "$eb" run --target "$target" --label "$config" --scenario "$scenario" --server-pid "$server_pid" \
			"${store_flag[@]}" "${bench_args[@]}" --concurrency "$conc" --warmup "$warmup" --duration "$duration" \
			--max-other-cpu "$max_other" --json >"$tmp/run.json" || rc=$?
		stop_server
		stop_redis
		if [ "$rc" = 4 ] && [ "$attempt" -le "$retries" ] && [ "$(slack_left)" -gt 0 ]; then
			spent=$((spent + $(date +%s) - t1))
			echo "    disturbed by other processes; repeating ($(slack_left) s of slack left)" >&2
			continue
		fi
		if [ "$rc" != 0 ] && [ "$rc" != 4 ]; then
			failed+=("$scenario c=$conc/$config/$round: run failed (exit $rc)")
			echo "server log:" >&2
			tail -n 20 "$tmp/server.log" >&2 || true
		fi
		cat "$tmp/run.json" >>"$results"
		return 0
	done
}

# fleet STORE: the fleet measurement for memory, bolt or redis, loading in
# async durability (the restart reads the same store whatever the
# durability; async just makes the load quick).
fleet() {
	local store=$1 dir restart=true rc=0
	echo "--- fleet / $store ($fleet_n instances)" >&2
	quiet
	dir=$(mktemp -d "$tmp/fleet.XXXXXX")
	case $store in
	memory) restart=false ;;
	esac
	store_env "$store" async || {
		failed+=("fleet/$store: store did not start")
		return 0
	}
	# shellcheck disable=SC2086 # lists of words
	fg "$eb" fleet --eurekad "$tmp/eurekad" --dir "$dir" --label "$store" --instances "$fleet_n" \
		--concurrency "$fleet_c" --restart="$restart" --json \
		--env "EUREKAD_REGISTRY_ENABLE_SELF_PRESERVATION=false ${BENCH_EUREKAD_ENV:-} $cfg_env" \
		>"$tmp/fleet.json" || rc=$?
	stop_redis
	if [ "$rc" != 0 ]; then
		failed+=("fleet/$store: failed (exit $rc)")
	fi
	cat "$tmp/fleet.json" >>"$results"
	rm -rf "$dir"
}

# Rotate the order of the configurations each round, so none always runs
# first (or last, on a hotter machine).
rotate() {
	local n=$1
	shift
	local a=("$@") i k=${#a[@]}
	for i in $(seq 0 $((k - 1))); do
		printf '%s ' "${a[$(((i + n) % k))]}"
	done
}

# load_rounds LOAD: the rounds of scenario:concurrency[:rounds].
load_rounds() {
	local scenario conc n
	IFS=: read -r scenario conc n <<<"$1"
	echo "${rounds:-${n:-3}}"
}

start=$(date +%s)
read -r -a config_list <<<"$configs"
max_rounds=0
for load in $loads; do
	max_rounds=$(($(load_rounds "$load") > max_rounds ? $(load_rounds "$load") : max_rounds))
done
for round in $(seq "$max_rounds"); do
	for load in $loads; do
		[ "$round" -le "$(load_rounds "$load")" ] || continue
		IFS=: read -r scenario conc _ <<<"$load"
		for config in $(rotate $((round - 1)) "${config_list[@]}"); do
			bench "$config" "$scenario" "$conc" "$round"
		done
	done
done
for store in $fleets; do
	fleet "$store"
done

echo
echo "## eurekad storage: stores against the memory store"
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(go version 2>/dev/null | cut -d' ' -f3), $origin, load average at the end $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)."
echo "Command: ${BENCH_QUICK:+BENCH_QUICK=$BENCH_QUICK }scripts/bench-storage.sh ($duration per run after a $warmup warm-up; loads scenario:concurrency:rounds: $(for l in $loads; do IFS=: read -r s c _ <<<"$l"; printf '%s ' "$s:$c:$(load_rounds "$l")"; done); fleet of $fleet_n at concurrency $fleet_c; medians)."
echo "Redis: a fresh redis-server $(redis-server --version 2>/dev/null | awk '{print $3}' | tr -d 'v=') per run, --appendonly yes, --appendfsync as named (everysec or always), --save \"\"."
echo
"$eb" storage-summary "$results"
if [ -n "${BENCH_STORAGE_OUT:-}" ]; then
	cp "$results" "$BENCH_STORAGE_OUT"
fi
echo
echo "storage runs took $(($(date +%s) - start)) s"

if [ ${#failed[@]} -gt 0 ]; then
	echo
	echo "FAILED STORAGE RUNS:"
	printf '  %s\n' "${failed[@]}"
	exit 1
fi
