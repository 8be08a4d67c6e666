#!/usr/bin/env bash
# Builds the e2e control plane from Go modules (no Docker, no prebuilt binaries):
#   kube-apiserver and kubectl from k8s.io/kubernetes (wrapper module ./kube-apiserver),
#   etcd from go.etcd.io/etcd/server/v3 (wrapper module ./etcd),
# into a cache folder outside the repository:
#   ${MESHLOCK_E2E_CACHE:-$HOME/.cache/meshlock/e2e/k8s-$K8S_VERSION-etcd-$ETCD_VERSION}/bin
# A binary is rebuilt only when it is missing or does not report the pinned version.
# Prints the bin folder on the last line of stdout.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
. "$HERE/versions.env"

CACHE="${MESHLOCK_E2E_CACHE:-$HOME/.cache/meshlock/e2e/k8s-$K8S_VERSION-etcd-$ETCD_VERSION}"
BIN="$CACHE/bin"
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
etcd_ok() {
  [ -x "$BIN/etcd" ] || return 1
  EXPECT="etcd Version: $ETCD_PLAIN" reports "$BIN/etcd" --version || return 1
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
  # Same stamping as upstream hack/lib/version.sh (both version packages; kubectl reads client-go's).
  ld="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$K8S_MAJOR -X $pkg.gitMinor=$K8S_MINOR"
    ld="$ld -X $pkg.gitTreeState=clean"
  done
  go build -C "$HERE/kube-apiserver" -trimpath -ldflags "$ld" -o "$tmp/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl
  mv -f "$tmp/kube-apiserver" "$tmp/kubectl" "$BIN/"
  rmdir "$tmp"
  kube_ok || { log "built binaries do not report $K8S_VERSION"; "$BIN/kube-apiserver" --version >&2 || true; exit 1; }
  log "kube-apiserver + kubectl built in $(( $(date +%s) - start )) s"
  built="$built kube"
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

log "control plane build took $(( $(date +%s) - total_start )) s (rebuilt:${built:- nothing})"
echo "$BIN"
