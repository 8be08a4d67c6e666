#!/usr/bin/env bash
# Builds the e2e control plane from Go modules (no Docker, no prebuilt binaries):
#   kube-apiserver, kube-controller-manager and kubectl from k8s.io/kubernetes (wrapper
#   module ./kube-apiserver), etcd from go.etcd.io/etcd/server/v3 (wrapper module ./etcd),
#   istiod (pilot-discovery) and istioctl from istio.io/istio (wrapper module ./istio),
# into cache folders outside the repository, keyed by version:
#   ${MESHLOCK_E2E_CACHE:-$HOME/.cache/meshlock/e2e}/k8s-$K8S_VERSION-etcd-$ETCD_VERSION/bin
#   ${MESHLOCK_E2E_CACHE:-$HOME/.cache/meshlock/e2e}/istio-$ISTIO_VERSION/bin
# A binary is rebuilt only when it is missing or does not report the pinned version.
#   MESHLOCK_E2E_ISTIO=0   skip istiod and istioctl
# Prints the Kubernetes bin folder on the last line of stdout, preceded by the Istio one
# (ISTIO_BIN=<folder>) unless Istio is skipped.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
. "$HERE/versions.env"

CACHE_ROOT="${MESHLOCK_E2E_CACHE:-$HOME/.cache/meshlock/e2e}"
CACHE="$CACHE_ROOT/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"
BIN="$CACHE/bin"
ISTIO_CACHE="$CACHE_ROOT/istio-$ISTIO_VERSION"
ISTIO_BIN="$ISTIO_CACHE/bin"
WITH_ISTIO="${MESHLOCK_E2E_ISTIO:-1}"
mkdir -p "$BIN"

export GOTOOLCHAIN=local CGO_ENABLED=0
# Module graph comes from the committed go.mod/go.sum only.
export GOFLAGS="-mod=readonly -buildvcs=false"

K8S_MAJOR=1
K8S_MINOR="${K8S_VERSION#v1.}"; K8S_MINOR="${K8S_MINOR%%.*}"
ETCD_PLAIN="${ETCD_VERSION#v}"

log() { echo "[e2e build] $*" >&2; }

# Output captured first: `cmd | grep -q` under pipefail fails at random when grep exits
# early and cmd dies of SIGPIPE.
reports() { # command...; the line it must print is in $EXPECT
  local out
  out="$("$@" 2>/dev/null)" || return 1
  [[ $'\n'"$out"$'\n' == *$'\n'"$EXPECT"$'\n'* ]]
}
kube_ok() {
  [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/kubectl" ] || return 1
  EXPECT="Kubernetes $K8S_VERSION" reports "$BIN/kube-apiserver" --version || return 1
  EXPECT="Client Version: $K8S_VERSION" reports "$BIN/kubectl" version --client || return 1
}
kcm_ok() {
  [ -x "$BIN/kube-controller-manager" ] || return 1
  EXPECT="Kubernetes $K8S_VERSION" reports "$BIN/kube-controller-manager" --version || return 1
}
istio_ok() {
  [ -x "$ISTIO_BIN/pilot-discovery" ] && [ -x "$ISTIO_BIN/istioctl" ] || return 1
  # `version -s` prints "client version: <stamped buildVersion>" (pkg/version/cobra.go).
  EXPECT="client version: $ISTIO_BUILD_VERSION" reports "$ISTIO_BIN/pilot-discovery" version -s || return 1
  EXPECT="client version: $ISTIO_BUILD_VERSION" reports "$ISTIO_BIN/istioctl" version --remote=false -s || return 1
}
etcd_ok() {
  [ -x "$BIN/etcd" ] || return 1
  EXPECT="etcd Version: $ETCD_PLAIN" reports "$BIN/etcd" --version || return 1
}

k8s_ldflags() {
  # Same stamping as upstream hack/lib/version.sh (both version packages; kubectl reads client-go's).
  local ld="-s -w" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$K8S_MAJOR -X $pkg.gitMinor=$K8S_MINOR"
    ld="$ld -X $pkg.gitTreeState=clean"
  done
  echo "$ld"
}

if ! command -v go >/dev/null; then
  log "go is not on PATH: the e2e control plane is built from Go modules and needs Go >= 1.25"
  exit 1
fi

total_start=$(date +%s)
built=""

if kube_ok; then
  log "kube-apiserver and kubectl $K8S_VERSION already in $BIN"
else
  log "building kube-apiserver and kubectl $K8S_VERSION with $(go version | awk '{print $3}') (cold: 10-20 min on 2 cores)"
  start=$(date +%s)
  tmp="$(mktemp -d "$CACHE/build.XXXXXX")"
  go build -C "$HERE/kube-apiserver" -trimpath -ldflags "$(k8s_ldflags)" -o "$tmp/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl
  mv -f "$tmp/kube-apiserver" "$tmp/kubectl" "$BIN/"
  rmdir "$tmp"
  kube_ok || { log "built binaries do not report $K8S_VERSION"; "$BIN/kube-apiserver" --version >&2 || true; exit 1; }
  log "kube-apiserver + kubectl built in $(( $(date +%s) - start )) s"
  built="$built kube"
fi

if kcm_ok; then
  log "kube-controller-manager $K8S_VERSION already in $BIN"
else
  log "building kube-controller-manager $K8S_VERSION (shares kube-apiserver's build cache: 3-6 min on 2 cores after it)"
  start=$(date +%s)
  tmp="$(mktemp -d "$CACHE/build.XXXXXX")"
  go build -C "$HERE/kube-apiserver" -trimpath -ldflags "$(k8s_ldflags)" -o "$tmp/" \
    k8s.io/kubernetes/cmd/kube-controller-manager
  mv -f "$tmp/kube-controller-manager" "$BIN/"
  rmdir "$tmp"
  kcm_ok || { log "built kube-controller-manager does not report $K8S_VERSION"; "$BIN/kube-controller-manager" --version >&2 || true; exit 1; }
  log "kube-controller-manager built in $(( $(date +%s) - start )) s"
  built="$built kube-controller-manager"
fi

if etcd_ok; then
  log "etcd $ETCD_VERSION already in $BIN"
else
  log "building etcd $ETCD_VERSION (cold: 2-5 min on 2 cores)"
  start=$(date +%s)
  tmp="$(mktemp -d "$CACHE/build.XXXXXX")"
  go build -C "$HERE/etcd" -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3
  mv -f "$tmp/etcd" "$BIN/etcd"
  rmdir "$tmp"
  etcd_ok || { log "built etcd does not report $ETCD_VERSION"; "$BIN/etcd" --version >&2 || true; exit 1; }
  log "etcd built in $(( $(date +%s) - start )) s"
  built="$built etcd"
fi

if [ "$WITH_ISTIO" = 0 ]; then
  log "MESHLOCK_E2E_ISTIO=0: not building istiod and istioctl"
elif istio_ok; then
  log "istiod and istioctl $ISTIO_BUILD_VERSION ($ISTIO_VERSION) already in $ISTIO_BIN"
else
  log "building istiod (pilot-discovery) and istioctl from istio.io/istio $ISTIO_VERSION (cold: 10-20 min on 2 cores)"
  start=$(date +%s)
  mkdir -p "$ISTIO_BIN"
  tmp="$(mktemp -d "$ISTIO_CACHE/build.XXXXXX")"
  # The variables Istio's own build stamps (common/scripts/report_build_info.sh).
  ld="-s -w"
  ld="$ld -X istio.io/istio/pkg/version.buildVersion=$ISTIO_BUILD_VERSION"
  ld="$ld -X istio.io/istio/pkg/version.buildGitRevision=$ISTIO_COMMIT"
  ld="$ld -X istio.io/istio/pkg/version.buildStatus=Clean"
  ld="$ld -X istio.io/istio/pkg/version.buildTag=$ISTIO_VERSION"
  ld="$ld -X istio.io/istio/pkg/version.buildHub=$ISTIO_HUB"
  go build -C "$HERE/istio" -trimpath -ldflags "$ld" -o "$tmp/" \
    istio.io/istio/pilot/cmd/pilot-discovery istio.io/istio/istioctl/cmd/istioctl
  mv -f "$tmp/pilot-discovery" "$tmp/istioctl" "$ISTIO_BIN/"
  rmdir "$tmp"
  istio_ok || { log "built istiod/istioctl do not report $ISTIO_BUILD_VERSION"; "$ISTIO_BIN/istioctl" version --remote=false >&2 || true; exit 1; }
  log "istiod + istioctl built in $(( $(date +%s) - start )) s"
  built="$built istio"
fi

log "control plane build took $(( $(date +%s) - total_start )) s (rebuilt:${built:- nothing})"
[ "$WITH_ISTIO" = 0 ] || echo "ISTIO_BIN=$ISTIO_BIN"
echo "$BIN"
