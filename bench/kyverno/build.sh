#!/usr/bin/env bash
# Builds Kyverno from its Go module at one pinned version, for the benchmarks:
#   build.sh                       the CLI (kubectl-kyverno), used by bench/compare-kyverno.mjs
#   build.sh admission-controller  the admission controller (cmd/kyverno), used by bench/peers.mjs
#
# Kyverno's go.mod has a replace directive, so `go install ...@version` is refused; this folder is a
# wrapper module that requires it and lists both commands as tools, and copies that replace. The
# binaries go to a cache outside the repository, keyed by version, and are rebuilt only when the
# cached one is of another version. Prints the binary's path on its last line.
#
#   MESHLOCK_KYVERNO_CACHE  cache root (default: $HOME/.cache/meshlock/kyverno)
set -euo pipefail

VERSION=v1.19.1
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${MESHLOCK_KYVERNO_CACHE:-$HOME/.cache/meshlock/kyverno}"

case "${1:-cli}" in
  cli)
    WHAT="the Kyverno CLI"
    PKG=github.com/kyverno/kyverno/cmd/cli/kubectl-kyverno
    BIN="$CACHE/$VERSION/kyverno"
    # The output is captured first: `grep -q` closing the pipe early would fail the pipeline (pipefail).
    reported() { "$BIN" version 2>/dev/null | sed -n 's/^Version: //p'; }
    ;;
  admission-controller)
    WHAT="Kyverno's admission controller"
    PKG=github.com/kyverno/kyverno/cmd/kyverno
    BIN="$CACHE/$VERSION/kyverno-admission-controller"
    # It has no version command; the build stamps the same variable as the CLI's, and Go records the
    # module versions in the binary (`go version -m`).
    reported() {
      command -v go >/dev/null 2>&1 || return 0
      go version -m "$BIN" 2>/dev/null | awk '($1 == "mod" || $1 == "dep") && $2 == "github.com/kyverno/kyverno" { print $3 }'
    }
    ;;
  *)
    echo "usage: build.sh [cli|admission-controller]" >&2
    exit 2
    ;;
esac

if [ -x "$BIN" ] && [ "$(reported)" = "$VERSION" ]; then
  echo "$BIN"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "build.sh: Go is needed to build $WHAT $VERSION (go.mod asks for $(sed -n 's/^go //p' "$HERE/go.mod") or newer)" >&2
  exit 2
fi

# The wrapper pins exactly this version; a mismatch means go.mod was edited without this script.
if ! grep -q "github.com/kyverno/kyverno $VERSION" "$HERE/go.mod"; then
  echo "build.sh: bench/kyverno/go.mod does not require github.com/kyverno/kyverno $VERSION" >&2
  exit 2
fi

mkdir -p "$CACHE/$VERSION"
echo "build.sh: building $WHAT $VERSION into $BIN (a cold build takes 10-25 minutes on 2 cores)" >&2
start=$(date +%s)
(
  cd "$HERE"
  # -mod=readonly: go.sum is committed, a build never rewrites it. Built at low priority: the
  # benchmarks run on small shared machines.
  CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:-} -mod=readonly" \
    nice -n 10 go build -trimpath -o "$BIN.tmp" \
    -ldflags "-s -w -X github.com/kyverno/kyverno/pkg/version.BuildVersion=$VERSION" \
    "$PKG"
)
mv "$BIN.tmp" "$BIN"
echo "build.sh: built in $(( $(date +%s) - start )) s" >&2
if [ "$(reported)" != "$VERSION" ]; then
  echo "build.sh: the built binary reports version '$(reported)', expected $VERSION" >&2
  exit 1
fi
echo "$BIN"
