#!/usr/bin/env bash
# Builds promtool (Prometheus's rule checker and rule unit tester) from its Go module
# (github.com/prometheus/prometheus, no prebuilt binary) into a cache folder outside the repository,
# the way test/helm/build.sh builds Helm:
#   ${MESHLOCK_PROMTOOL_CACHE:-$HOME/.cache/meshlock/promtool-$PROMETHEUS_VERSION}/bin/promtool
# test/deploy-monitoring.test.ts checks and unit-tests the PrometheusRules of deploy/ with it.
# Rebuilt only when missing or when it does not report the pinned version. Prints the bin folder on
# the last line of stdout.
set -euo pipefail
# Prometheus v3.16.0 is published as the Go module version v0.316.0.
PROMETHEUS_VERSION="${PROMETHEUS_VERSION:-v0.316.0}"
CACHE="${MESHLOCK_PROMTOOL_CACHE:-$HOME/.cache/meshlock/promtool-$PROMETHEUS_VERSION}"
BIN="$CACHE/bin"
mkdir -p "$BIN"
STAMP="meshlock-build-${PROMETHEUS_VERSION}"

log() { echo "[promtool build] $*" >&2; }

promtool_ok() {
  [ -x "$BIN/promtool" ] || return 1
  "$BIN/promtool" --version 2>&1 | grep -q "$STAMP"
}

if promtool_ok; then
  log "promtool $PROMETHEUS_VERSION already in $BIN"
else
  command -v go >/dev/null || { log "go is not on PATH: promtool is built from its Go module and needs Go"; exit 1; }
  log "building promtool $PROMETHEUS_VERSION with $(go version | awk '{print $3}') (cold: minutes on 2 cores)"
  start=$(date +%s)
  # `go install module@version` resolves the graph from Prometheus's own go.mod and go.sum (checked
  # against the checksum database). The version is stamped where Prometheus's Makefile stamps it.
  GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOBIN="$BIN" \
    go install -trimpath -ldflags "-s -w -X github.com/prometheus/common/version.Version=$STAMP" \
    "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_VERSION"
  promtool_ok || { log "built promtool does not report $STAMP"; "$BIN/promtool" --version >&2 || true; exit 1; }
  log "promtool built in $(( $(date +%s) - start )) s"
fi
echo "$BIN"
