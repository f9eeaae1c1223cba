#!/usr/bin/env bash
# bench-cluster.sh: peer replication figures for docs/benchmarks.md.
#
# Builds ./cmd/eurekad and tools/eurekabench (a module of its own) into a
# temporary directory and runs "eurekabench cluster": a standalone eurekad
# serving a heartbeat load (the serving cost), then three replicating eurekads
# on loopback: the lag of lone registrations on the idle cluster until both
# peers serve them, how fast N registrations on A reach both peers, A's and
# B's CPU under the same heartbeat load (the replication cost against the
# serving cost), and the p50/p99 lag of a change on A until B serves it.
#
# Environment:
#   CLUSTER_INSTANCES=20000   instances registered and heartbeating
#   CLUSTER_INTERVAL=30s      heartbeat interval per instance (Eureka's)
#   CLUSTER_DURATION=30s      length of each measurement window
#   CLUSTER_IDLE_PROBES=100   lone registrations timed on the idle cluster
#   CLUSTER_LAG_ONLY=1        measure only that idle lag (quick)
#   CLUSTER_JSON=1            print one JSON line instead of the table
#   EUREKAD_BIN=PATH          use this eurekad binary instead of building one
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
args=(cluster --eurekad "$bin"
	--instances "${CLUSTER_INSTANCES:-20000}"
	--interval "${CLUSTER_INTERVAL:-30s}"
	--duration "${CLUSTER_DURATION:-30s}"
	--idle-probes "${CLUSTER_IDLE_PROBES:-100}")
if [[ ${CLUSTER_LAG_ONLY:-0} == 1 ]]; then
	args+=(--lag-only)
fi
if [[ ${CLUSTER_JSON:-0} == 1 ]]; then
	args+=(--json)
fi
exec "$tmp/eurekabench" "${args[@]}"
