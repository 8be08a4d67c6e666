#!/usr/bin/env bash
# Builds the Helm CLI from its Go module (helm.sh/helm/v3, no prebuilt binary) into a cache folder
# outside the repository, the way test/e2e/cluster/build.sh builds kubectl:
#   ${MESHLOCK_HELM_CACHE:-$HOME/.cache/meshlock/helm-$HELM_VERSION}/bin/helm
# The chart tests (test/chart.test.ts) and the e2e chart install use it. Rebuilt only when missing
# or when it does not report the pinned version. Prints the bin folder on the last line of stdout.
set -euo pipefail
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
CACHE="${MESHLOCK_HELM_CACHE:-$HOME/.cache/meshlock/helm-$HELM_VERSION}"
BIN="$CACHE/bin"
mkdir -p "$BIN"

log() { echo "[helm build] $*" >&2; }

helm_ok() {
  [ -x "$BIN/helm" ] || return 1
  local out
  out="$("$BIN/helm" version --template '{{.Version}}' 2>/dev/null)" || return 1
  [ "$out" = "$HELM_VERSION" ]
}

if helm_ok; then
  log "helm $HELM_VERSION already in $BIN"
else
  command -v go >/dev/null || { log "go is not on PATH: helm is built from its Go module and needs Go"; exit 1; }
  log "building helm $HELM_VERSION with $(go version | awk '{print $3}') (cold: 3-8 min on 2 cores)"
  start=$(date +%s)
  # `go install module@version` resolves the graph from helm's own go.mod and go.sum (checked
  # against the checksum database), so the build is pinned without a wrapper module.
  # The version is stamped as helm's Makefile does (internal/version.version).
  GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOBIN="$BIN" \
    go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  helm_ok || { log "built helm does not report $HELM_VERSION"; "$BIN/helm" version >&2 || true; exit 1; }
  log "helm built in $(( $(date +%s) - start )) s"
fi
echo "$BIN"
