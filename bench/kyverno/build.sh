#!/usr/bin/env bash
# Builds the Kyverno CLI (kubectl-kyverno) used by bench/compare-kyverno.mjs.
#
# Kyverno's go.mod has a replace directive, so `go install ...@version` is refused; this folder is a
# wrapper module that requires it as a tool and copies that replace. The binary goes to a cache
# outside the repository, keyed by version, and is rebuilt only when the cached one reports another
# version. Prints the binary's path on its last line.
#
#   MESHLOCK_KYVERNO_CACHE  cache root (default: $HOME/.cache/meshlock/kyverno)
set -euo pipefail

VERSION=v1.19.1
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${MESHLOCK_KYVERNO_CACHE:-$HOME/.cache/meshlock/kyverno}"
BIN="$CACHE/$VERSION/kyverno"

# The output is captured first: `grep -q` closing the pipe early would fail the pipeline (pipefail).
reported() { "$BIN" version 2>/dev/null | sed -n 's/^Version: //p'; }
if [ -x "$BIN" ] && [ "$(reported)" = "$VERSION" ]; then
  echo "$BIN"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "build.sh: Go is needed to build the Kyverno CLI $VERSION (go.mod asks for $(sed -n 's/^go //p' "$HERE/go.mod") or newer)" >&2
  exit 2
fi

# The wrapper pins exactly this version; a mismatch means go.mod was edited without this script.
if ! grep -q "github.com/kyverno/kyverno $VERSION" "$HERE/go.mod"; then
  echo "build.sh: bench/kyverno/go.mod does not require github.com/kyverno/kyverno $VERSION" >&2
  exit 2
fi

mkdir -p "$CACHE/$VERSION"
echo "build.sh: building the Kyverno CLI $VERSION into $BIN (a cold build takes 10-25 minutes on 2 cores)" >&2
start=$(date +%s)
(
  cd "$HERE"
  # -mod=readonly: go.sum is committed, a build never rewrites it.
  CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:-} -mod=readonly" \
    go build -trimpath -o "$BIN.tmp" \
    -ldflags "-s -w -X github.com/kyverno/kyverno/pkg/version.BuildVersion=$VERSION" \
    github.com/kyverno/kyverno/cmd/cli/kubectl-kyverno
)
mv "$BIN.tmp" "$BIN"
echo "build.sh: built in $(( $(date +%s) - start )) s" >&2
if [ "$(reported)" != "$VERSION" ]; then
  echo "build.sh: the built binary reports version '$(reported)', expected $VERSION" >&2
  exit 1
fi
echo "$BIN"
