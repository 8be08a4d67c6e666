#!/usr/bin/env bash
# Regenerates the wrapper Go modules that build the e2e control plane from source:
#   kube-apiserver/  requires k8s.io/kubernetes $K8S_VERSION and replaces every staging
#                    module k8s.io/* with the published v0.X.Y of the same release, read
#                    from that release's own go.mod (k8s.io/kubernetes requires them at
#                    v0.0.0 with ./staging replaces that only apply when it is the main module).
#   etcd/            requires go.etcd.io/etcd/server/v3 $ETCD_VERSION (no replaces needed).
#   istio/           requires istio.io/istio $ISTIO_VERSION (tools pilot-discovery, istioctl).
# Run this only to bump a version (edit versions.env first); build.sh uses the committed
# go.mod/go.sum and never rewrites them.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
. "$HERE/versions.env"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod

STAGING_VERSION="v0.${K8S_VERSION#v1.}"   # v1.35.4 -> v0.35.4
K8S_MINOR="${K8S_VERSION#v1.}"; K8S_MINOR="${K8S_MINOR%%.*}"

# --- kube-apiserver (+ kubectl) ------------------------------------------------------
cd "$HERE/kube-apiserver"
rm -f go.mod go.sum
go mod init meshlock.dev/e2e/kube-apiserver
# Same Go language version and GODEBUG defaults as the release builds with.
gomod_json="$(cd "${TMPDIR:-/tmp}" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION")"
upstream_gomod="$(printf '%s\n' "$gomod_json" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
[ -f "$upstream_gomod" ] || { echo "cannot find go.mod of k8s.io/kubernetes@$K8S_VERSION" >&2; exit 1; }
go_line="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$upstream_gomod")"
godebug_line="$(sed -n 's/^godebug \(.*\)$/\1/p' "$upstream_gomod")"
go mod edit -go="$go_line"
[ -n "$godebug_line" ] && go mod edit -godebug="$godebug_line"
mods="$(sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/.*#\1#p' "$upstream_gomod")"
[ -n "$mods" ] || { echo "no staging replaces found in $upstream_gomod" >&2; exit 1; }
n=0
for m in $mods; do
  go mod edit -replace="$m=$m@$STAGING_VERSION"
  n=$((n + 1))
done
echo "replaced $n staging modules with $STAGING_VERSION"
go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION"
go get -tool "k8s.io/kubernetes/cmd/kubectl@$K8S_VERSION"
go get -tool "k8s.io/kubernetes/cmd/kube-controller-manager@$K8S_VERSION"
go mod tidy
# Every replaced staging module must be downloadable at that version (the proxy may not
# serve all of them); fail here rather than halfway through a build.
for m in $mods; do
  go mod download "$m@$STAGING_VERSION"
done
go mod verify

# --- etcd -----------------------------------------------------------------------------
cd "$HERE/etcd"
rm -f go.mod go.sum
go mod init meshlock.dev/e2e/etcd
etcd_gomod_json="$(cd "${TMPDIR:-/tmp}" && go mod download -json "go.etcd.io/etcd/server/v3@$ETCD_VERSION")"
etcd_gomod="$(printf '%s\n' "$etcd_gomod_json" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
go mod edit -go="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$etcd_gomod")"
go get -tool "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
go mod tidy
go mod verify
# --- istio (istiod = pilot-discovery, istioctl) ------------------------------------------
# istio.io/istio has no replace directives; the wrapper only pins the version and holds go.sum.
cd "$HERE/istio"
rm -f go.mod go.sum
go mod init meshlock.dev/e2e/istio
istio_gomod_json="$(cd "${TMPDIR:-/tmp}" && go mod download -json "istio.io/istio@$ISTIO_VERSION")"
istio_gomod="$(printf '%s\n' "$istio_gomod_json" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
go mod edit -go="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$istio_gomod")"
go get -tool "istio.io/istio/pilot/cmd/pilot-discovery@$ISTIO_VERSION" "istio.io/istio/istioctl/cmd/istioctl@$ISTIO_VERSION"
go mod verify

echo "modules regenerated for kubernetes $K8S_VERSION (staging $STAGING_VERSION, minor $K8S_MINOR), etcd $ETCD_VERSION, istio $ISTIO_VERSION"
