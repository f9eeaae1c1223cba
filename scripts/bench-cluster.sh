#!/usr/bin/env bash
# bench-cluster.sh: peer replication figures for docs/benchmarks.md.
#
# Builds ./cmd/eurekad and ./cmd/eurekabench into a temporary directory and
# runs "eurekabench cluster": a standalone eurekad serving a heartbeat load
# (the serving cost), then three replicating eurekads on loopback: how fast
# N registrations on A reach both peers, A's and B's CPU under the same
# heartbeat load (the replication cost against the serving cost), and the
# p50/p99 lag of a change on A until B serves it.
#
# Environment:
#   CLUSTER_INSTANCES=20000   instances registered and heartbeating
#   CLUSTER_INTERVAL=30s      heartbeat interval per instance (Eureka's)
#   CLUSTER_DURATION=30s      length of each measurement window
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
go build -o "$tmp/eurekabench" ./cmd/eurekabench
args=(cluster --eurekad "$bin"
	--instances "${CLUSTER_INSTANCES:-20000}"
	--interval "${CLUSTER_INTERVAL:-30s}"
	--duration "${CLUSTER_DURATION:-30s}")
if [[ ${CLUSTER_JSON:-0} == 1 ]]; then
	args+=(--json)
fi
exec "$tmp/eurekabench" "${args[@]}"
