#!/usr/bin/env bash
# Starts a real etcd + kube-apiserver on loopback for the end-to-end tests, with the flags
# controller-runtime's envtest uses, installs Istio's and the PolicyReport CRDs, starts
# kube-controller-manager (Deployments, Jobs, garbage collector, namespace controller), and
# installs Istio as its chart does with istiod running on the host (unless MESHLOCK_E2E_ISTIO=0).
#
#   MESHLOCK_E2E_DIR   state folder (certs, etcd data, logs, kubeconfig, env); created
#                      with mktemp when unset. Must not hold a running cluster.
#   MESHLOCK_E2E_BIN   folder with kube-apiserver, kube-controller-manager, etcd, kubectl
#                      (default: what build.sh builds)
#   MESHLOCK_E2E_ISTIO=0  no istiod, no Istio chart: a quicker cluster (CRDs only, as before)
#   MESHLOCK_E2E_ISTIO_BIN  folder with pilot-discovery and istioctl (default: build.sh's)
#   MESHLOCK_E2E_SHARED  the shared/ folder (default: ../shared beside the repository)
#   MESHLOCK_E2E_ADVERTISE_ADDRESS  force --advertise-address (default: only set when the
#                      machine has no default route, see below)
#   MESHLOCK_E2E_READY_TIMEOUT  seconds to wait for /readyz (default 120)
#
# Writes $MESHLOCK_E2E_DIR/env (KEY=value lines, shell-sourceable) and prints its path as
# the last line of stdout. Stop with: down.sh $MESHLOCK_E2E_DIR
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../../.." && pwd)"
# shellcheck source=versions.env
. "$HERE/versions.env"

log() { echo "[e2e up] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
t0=$(date +%s.%N)
elapsed() { awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

for tool in openssl curl; do
  command -v "$tool" >/dev/null || die "$tool is required"
done

WITH_ISTIO="${MESHLOCK_E2E_ISTIO:-1}"
ISTIO_BIN="${MESHLOCK_E2E_ISTIO_BIN:-}"
if [ -n "${MESHLOCK_E2E_BIN:-}" ]; then
  BIN="$MESHLOCK_E2E_BIN"
else
  built_out="$(bash "$HERE/build.sh")"
  BIN="$(printf '%s\n' "$built_out" | tail -n 1)"
  [ -n "$ISTIO_BIN" ] || ISTIO_BIN="$(printf '%s\n' "$built_out" | sed -n 's/^ISTIO_BIN=//p')"
fi
# build.sh's default place for the Istio binaries (keyed by version, like the Kubernetes ones).
[ -n "$ISTIO_BIN" ] || ISTIO_BIN="${MESHLOCK_E2E_CACHE:-$HOME/.cache/meshlock/e2e}/istio-$ISTIO_VERSION/bin"
for b in kube-apiserver kube-controller-manager etcd kubectl; do
  [ -x "$BIN/$b" ] || die "$BIN/$b missing: run test/e2e/cluster/build.sh"
done
if [ "$WITH_ISTIO" != 0 ]; then
  for b in pilot-discovery istioctl; do
    [ -x "$ISTIO_BIN/$b" ] || die "$ISTIO_BIN/$b missing: run test/e2e/cluster/build.sh (or MESHLOCK_E2E_ISTIO=0)"
  done
fi
KUBECTL="$BIN/kubectl"
ISTIOCTL="$ISTIO_BIN/istioctl"

SHARED="${MESHLOCK_E2E_SHARED:-$REPO/../shared}"
ISTIO_CRDS="$SHARED/conformance/istio/crd-all.gen.yaml"
REPORT_CRDS="$SHARED/conformance/policyreport"
[ -f "$ISTIO_CRDS" ] || die "Istio CRDs not found at $ISTIO_CRDS (shared/ must sit beside the repository)"
[ -d "$REPORT_CRDS" ] || die "PolicyReport CRDs not found at $REPORT_CRDS"

if [ -n "${MESHLOCK_E2E_DIR:-}" ]; then
  D="$MESHLOCK_E2E_DIR"
  mkdir -p "$D"
  [ -f "$D/pids" ] && die "$D already holds a cluster (pids file present): run down.sh first"
else
  D="$(mktemp -d "${TMPDIR:-/tmp}/meshlock-e2e.XXXXXX")"
fi
D="$(cd "$D" && pwd)"
touch "$D/.meshlock-e2e"   # marker: down.sh only deletes folders that carry it
mkdir -p "$D/pki" "$D/logs"
mkdir -p -m 700 "$D/etcd"   # etcd warns about anything wider
: > "$D/pids"

started_ok=0
cleanup_on_error() {
  if [ "$started_ok" != 1 ]; then
    log "startup failed after $(elapsed) s; last log lines:"
    for f in "$D/logs/etcd.log" "$D/logs/kube-apiserver.log" "$D/logs/kube-controller-manager.log" "$D/logs/pilot-discovery.log"; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 25 "$f" >&2; }; done
    bash "$HERE/down.sh" "$D" >&2 || true
  fi
}
trap cleanup_on_error EXIT

# --- free loopback ports -------------------------------------------------------------
free_port() {
  if command -v python3 >/dev/null; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
  else
    node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
  fi
}
pick_ports() {
  local p seen=" "
  local names=(ETCD_CLIENT_PORT ETCD_PEER_PORT APISERVER_PORT KCM_PORT)
  [ "$WITH_ISTIO" = 0 ] || names+=(ISTIOD_HTTP_PORT ISTIOD_HTTPS_PORT ISTIOD_GRPC_PORT ISTIOD_SECURE_GRPC_PORT ISTIOD_MONITORING_PORT ISTIOD_CTRLZ_PORT)
  for name in "${names[@]}"; do
    p="$(free_port)"
    while [[ "$seen" == *" $p "* ]]; do p="$(free_port)"; done
    seen="$seen$p "
    printf -v "$name" '%s' "$p"
  done
}
pick_ports

# --- certificates (openssl only, so the cluster does not depend on the product code) --
PKI="$D/pki"
ossl() { openssl "$@" 2>>"$D/logs/openssl.log"; }
ossl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=meshlock-e2e-ca" \
  -keyout "$PKI/ca.key" -out "$PKI/ca.crt" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"

sign() { # name subject san extKeyUsage
  local name=$1 subj=$2 san=$3 eku=$4
  ossl req -newkey rsa:2048 -nodes -subj "$subj" -keyout "$PKI/$name.key" -out "$PKI/$name.csr"
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    [ -n "$san" ] && echo "subjectAltName=$san"
  } > "$PKI/$name.ext"
  ossl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 2 -out "$PKI/$name.crt" -extfile "$PKI/$name.ext"
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

# --- advertise address -----------------------------------------------------------------
# kube-apiserver derives its advertise address from the default route and dies with
# "no default routes found ... set the AdvertiseAddress" without one; loopback is refused
# as --advertise-address (controller-runtime#669, commit 0664cce6). Then use a
# non-loopback address of this machine (nothing connects to it: no kube-proxy runs).
# MESHLOCK_E2E_ADVERTISE_ADDRESS overrides.
ADVERTISE="${MESHLOCK_E2E_ADVERTISE_ADDRESS:-}"
has_default_route() {
  # What kube-apiserver reads (k8s.io/apimachinery/pkg/util/net): a 0.0.0.0/0 route in
  # /proc/net/route or a ::/0 one in /proc/net/ipv6_route, on an interface other than lo
  # (a lo-only network namespace has a ::/0 reject route on lo, which does not count).
  awk 'NR > 1 && $1 != "lo" && $2 == "00000000" && $8 == "00000000" { found = 1 } END { exit !found }' /proc/net/route 2>/dev/null && return 0
  awk '$10 != "lo" && $1 == "00000000000000000000000000000000" && $2 == "00" { found = 1 } END { exit !found }' /proc/net/ipv6_route 2>/dev/null
}
host_ipv4() {
  if command -v ip >/dev/null; then
    ip -4 -o addr show scope global 2>/dev/null | awk '{ split($4, a, "/"); print a[1]; exit }'
  else
    hostname -I 2>/dev/null | tr ' ' '\n' | grep -E '^[0-9]+(\.[0-9]+){3}$' | grep -v '^127\.' | head -n 1
  fi
}
if [ -z "$ADVERTISE" ] && ! has_default_route; then
  ADVERTISE="$(host_ipv4 || true)"
  # No address at all (a loopback-only network namespace): the apiserver only publishes
  # the advertise address in the "kubernetes" Service's endpoints and never binds it, so a
  # documentation address (RFC 5737 TEST-NET-2, never routed) serves. Verified with
  # `unshare -n`: the cluster comes up and the endpoints read 198.51.100.1.
  [ -n "$ADVERTISE" ] || ADVERTISE=198.51.100.1
  log "no default route: using --advertise-address=$ADVERTISE"
fi

SERVING_SAN="IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
[ -n "$ADVERTISE" ] && SERVING_SAN="$SERVING_SAN,IP:$ADVERTISE"
sign apiserver "/CN=kube-apiserver" "$SERVING_SAN" serverAuth
sign admin "/O=system:masters/CN=meshlock-e2e-admin" "" clientAuth
# kube-controller-manager's own identity: the user its bootstrap RBAC role is bound to
# (system:kube-controller-manager); each controller then runs as its own service account.
sign kube-controller-manager "/CN=system:kube-controller-manager" "" clientAuth
# istiod's serving certificate: valid for the loopback address the webhook configurations
# call (clientConfig.url) as well as for the in-cluster service names Istio's tools use.
[ "$WITH_ISTIO" = 0 ] || sign istiod "/CN=istiod.istio-system.svc" \
  "IP:127.0.0.1,DNS:localhost,DNS:istiod.istio-system.svc,DNS:istiod.istio-system.svc.cluster.local,DNS:istiod.istio-system" \
  serverAuth
ossl genrsa -out "$PKI/sa.key" 2048
ossl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub"
TOKEN="$(openssl rand -hex 24)"
printf '%s,meshlock-e2e-admin,meshlock-e2e-admin,"system:masters"\n' "$TOKEN" > "$D/tokens.csv"
chmod 600 "$D/tokens.csv" "$PKI"/*.key

# Audit log at Metadata level: records the auditAnnotations that admission webhooks return.
cat > "$D/audit-policy.yaml" <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    nonResourceURLs: ["/readyz*", "/livez*", "/healthz*", "/version", "/openapi*", "/api*"]
  - level: None
    resources: [{ group: coordination.k8s.io, resources: [leases] }]
  - level: Metadata
EOF

# The apiserver calls webhooks on 127.0.0.1: keep any proxy settings of the caller away from it.
run_bg() { # name cmd...
  local name=$1; shift
  env -u HTTP_PROXY -u HTTPS_PROXY -u http_proxy -u https_proxy -u ALL_PROXY -u all_proxy \
    NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost \
    setsid "$@" > "$D/logs/$name.log" 2>&1 < /dev/null &
  echo "$name $!" >> "$D/pids"
}

# --- etcd ------------------------------------------------------------------------------
run_bg etcd "$BIN/etcd" \
  --name=default \
  --data-dir="$D/etcd" \
  --listen-client-urls="http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --advertise-client-urls="http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="default=http://127.0.0.1:$ETCD_PEER_PORT" \
  --unsafe-no-fsync=true \
  --log-level=warn
ETCD_PID="$(awk '$1 == "etcd" { print $2 }' "$D/pids")"

alive() { kill -0 "$1" 2>/dev/null; }
deadline=$(( $(date +%s) + 30 ))
until curl -fsS "http://127.0.0.1:$ETCD_CLIENT_PORT/health" 2>/dev/null | grep -q '"health":"true"'; do
  alive "$ETCD_PID" || die "etcd exited (see $D/logs/etcd.log)"
  [ "$(date +%s)" -lt "$deadline" ] || die "etcd not healthy after 30 s"
  sleep 0.2
done
log "etcd $ETCD_VERSION healthy on 127.0.0.1:$ETCD_CLIENT_PORT after $(elapsed) s"

# --- kube-apiserver ----------------------------------------------------------------------
apiserver_args=(
  --etcd-servers="http://127.0.0.1:$ETCD_CLIENT_PORT"
  --cert-dir="$PKI"
  --tls-cert-file="$PKI/apiserver.crt"
  --tls-private-key-file="$PKI/apiserver.key"
  --secure-port="$APISERVER_PORT"
  --bind-address=127.0.0.1
  --service-cluster-ip-range=10.0.0.0/24
  --allow-privileged=true
  --authorization-mode=RBAC
  --client-ca-file="$PKI/ca.crt"
  --token-auth-file="$D/tokens.csv"
  --service-account-issuer="https://127.0.0.1:$APISERVER_PORT/"
  --service-account-key-file="$PKI/sa.pub"
  --service-account-signing-key-file="$PKI/sa.key"
  --audit-policy-file="$D/audit-policy.yaml"
  --audit-log-path="$D/logs/audit.log"
  --audit-log-format=json
  --audit-log-mode=blocking
)
[ -n "$ADVERTISE" ] && apiserver_args+=(--advertise-address="$ADVERTISE")
run_bg kube-apiserver "$BIN/kube-apiserver" "${apiserver_args[@]}"
APISERVER_PID="$(awk '$1 == "kube-apiserver" { print $2 }' "$D/pids")"

# --- kubeconfig --------------------------------------------------------------------------
KUBECONFIG_FILE="$D/kubeconfig"
kc() { "$KUBECTL" --kubeconfig="$KUBECONFIG_FILE" "$@"; }
kc config set-cluster e2e --server="https://127.0.0.1:$APISERVER_PORT" \
  --certificate-authority="$PKI/ca.crt" --embed-certs=true >/dev/null
kc config set-credentials admin --token="$TOKEN" >/dev/null
kc config set-context e2e --cluster=e2e --user=admin --namespace=default >/dev/null
kc config use-context e2e >/dev/null
chmod 600 "$KUBECONFIG_FILE"

timeout_s="${MESHLOCK_E2E_READY_TIMEOUT:-120}"
deadline=$(( $(date +%s) + timeout_s ))
until [ "$(kc get --raw /readyz 2>/dev/null)" = "ok" ]; do
  alive "$APISERVER_PID" || die "kube-apiserver exited (see $D/logs/kube-apiserver.log)"
  [ "$(date +%s)" -lt "$deadline" ] || die "kube-apiserver not ready after $timeout_s s: $(kc get --raw '/readyz?verbose' 2>&1 | grep -v '\[+\]' | head -n 20)"
  sleep 0.5
done
log "kube-apiserver $K8S_VERSION ready on https://127.0.0.1:$APISERVER_PORT after $(elapsed) s"

# --- CRDs --------------------------------------------------------------------------------
# Server-side apply: crd-all.gen.yaml's CRDs are too large for client-side apply's
# last-applied annotation (262144 bytes).
kc apply --server-side --force-conflicts -f "$ISTIO_CRDS" > "$D/logs/crds.log"
kc apply --server-side --force-conflicts -f "$REPORT_CRDS" >> "$D/logs/crds.log"
kc wait --for=condition=Established --timeout=60s crd --all >> "$D/logs/crds.log"
# Established CRDs can still be missing from discovery for a moment; wait until kubectl
# resolves the kinds the tests use.
deadline=$(( $(date +%s) + 30 ))
until kc get peerauthentications.security.istio.io,destinationrules.networking.istio.io,policyreports.wgpolicyk8s.io -A >/dev/null 2>&1; do
  [ "$(date +%s)" -lt "$deadline" ] || die "Istio/PolicyReport CRDs not served after 30 s"
  sleep 0.5
done
log "$(kc get crd -o name | wc -l) CRDs established after $(elapsed) s"

# kubeconfig for a component: same cluster entry, its own credentials.
component_kubeconfig() { # file credential-args...
  local file=$1; shift
  "$KUBECTL" --kubeconfig="$file" config set-cluster e2e --server="https://127.0.0.1:$APISERVER_PORT" \
    --certificate-authority="$PKI/ca.crt" --embed-certs=true >/dev/null
  "$KUBECTL" --kubeconfig="$file" config set-credentials component "$@" >/dev/null
  "$KUBECTL" --kubeconfig="$file" config set-context e2e --cluster=e2e --user=component >/dev/null
  "$KUBECTL" --kubeconfig="$file" config use-context e2e >/dev/null
  chmod 600 "$file"
}

# --- kube-controller-manager ---------------------------------------------------------------
# Deployments -> ReplicaSets -> Pods, Jobs/CronJobs -> Pods, the garbage collector, the
# namespace controller, the service-account controllers: every write they make goes through
# the admission webhooks. Each controller uses its own service account's credentials
# (--use-service-account-credentials), tokens signed with the key pair the apiserver verifies.
# No kubelet and no scheduler: pods stay Pending, which is all admission needs.
KCM_KUBECONFIG="$D/kube-controller-manager.kubeconfig"
component_kubeconfig "$KCM_KUBECONFIG" --client-certificate="$PKI/kube-controller-manager.crt" \
  --client-key="$PKI/kube-controller-manager.key" --embed-certs=true
mkdir -p "$D/kube-controller-manager"
run_bg kube-controller-manager "$BIN/kube-controller-manager" \
  --kubeconfig="$KCM_KUBECONFIG" \
  --authentication-kubeconfig="$KCM_KUBECONFIG" \
  --authorization-kubeconfig="$KCM_KUBECONFIG" \
  --bind-address=127.0.0.1 \
  --secure-port="$KCM_PORT" \
  --cert-dir="$D/kube-controller-manager" \
  --leader-elect=false \
  --use-service-account-credentials=true \
  --service-account-private-key-file="$PKI/sa.key" \
  --root-ca-file="$PKI/ca.crt" \
  --cluster-name=meshlock-e2e \
  --controllers='*'
KCM_PID="$(awk '$1 == "kube-controller-manager" { print $2 }' "$D/pids")"
deadline=$(( $(date +%s) + timeout_s ))
until [ "$(curl -ksS --max-time 2 "https://127.0.0.1:$KCM_PORT/healthz" 2>/dev/null)" = "ok" ]; do
  alive "$KCM_PID" || die "kube-controller-manager exited (see $D/logs/kube-controller-manager.log)"
  [ "$(date +%s)" -lt "$deadline" ] || die "kube-controller-manager not healthy after $timeout_s s"
  sleep 0.5
done
# The service-account controller creating "default" proves the controllers write through
# the apiserver with their own credentials.
until kc get serviceaccount default -n default >/dev/null 2>&1; do
  alive "$KCM_PID" || die "kube-controller-manager exited (see $D/logs/kube-controller-manager.log)"
  [ "$(date +%s)" -lt "$deadline" ] || die "no default ServiceAccount after $timeout_s s: kube-controller-manager's controllers are not running"
  sleep 0.5
done
log "kube-controller-manager $K8S_VERSION running after $(elapsed) s"

# --- Istio -----------------------------------------------------------------------------------
ISTIOD_PID=""
if [ "$WITH_ISTIO" != 0 ]; then
  mkdir -p "$D/istio"
  ca_b64="$(base64 -w0 < "$PKI/ca.crt")"
  ISTIOD_URL="https://127.0.0.1:$ISTIOD_HTTPS_PORT"
  # Istio's own chart, rendered by the istioctl of the same module: the minimal profile is the
  # base chart (CRDs, validation configuration) + the istiod chart (ConfigMaps "istio" and
  # "istio-sidecar-injector", injector and validation configurations, RBAC). defaultRevision=default
  # as Istio's Helm instructions install the base chart: it adds istiod-default-validator, the
  # validation webhook for objects without an istio.io/rev label (the istiod chart's own
  # istio-validator-istio-system only selects istio.io/rev=default). Its values for
  # an istiod outside the cluster (istiodRemote.injectionURL, base.validationURL and their
  # CA bundles) point the webhook configurations at istiod on loopback; names, selectors
  # and reinvocationPolicy stay as the chart renders them.
  "$ISTIOCTL" manifest generate --set profile=minimal \
    --set values.defaultRevision=default \
    --set values.global.istioNamespace=istio-system \
    --set values.istiodRemote.injectionURL="$ISTIOD_URL/inject" \
    --set values.istiodRemote.injectionCABundle="$ca_b64" \
    --set values.base.validationURL="$ISTIOD_URL/validate" \
    --set values.base.validationCABundle="$ca_b64" \
    > "$D/istio/manifest.yaml" 2> "$D/logs/istioctl-manifest.log" \
    || die "istioctl manifest generate failed: $(tail -n 5 "$D/logs/istioctl-manifest.log")"
  # istiod runs on the host, not as the chart's Deployment (nothing would run its pod), so the
  # objects that only serve that pod are left out.
  awk '
    function flush() {
      if (doc ~ /[^[:space:]]/ && doc !~ /(^|\n)kind: (Deployment|HorizontalPodAutoscaler|PodDisruptionBudget)[[:space:]]*\n/) printf "%s---\n", doc
      doc = ""
    }
    /^---/ { flush(); next }
    { doc = doc $0 "\n" }
    END { flush() }' "$D/istio/manifest.yaml" > "$D/istio/install.yaml"
  grep -q '^kind: MutatingWebhookConfiguration' "$D/istio/install.yaml" \
    || die "the rendered Istio chart has no MutatingWebhookConfiguration (see $D/istio/manifest.yaml)"
  kc create namespace istio-system > /dev/null
  kc apply --server-side --force-conflicts -f "$D/istio/install.yaml" > "$D/logs/istio-install.log" 2>&1 \
    || die "installing the Istio chart failed: $(tail -n 10 "$D/logs/istio-install.log")"
  kc wait --for=condition=Established --timeout=60s crd --all >> "$D/logs/istio-install.log"

  # istiod's identity is its chart ServiceAccount (the chart's RBAC applies), with a token
  # the apiserver signs.
  istiod_token="$(kc create token istiod -n istio-system --duration=48h)" || die "cannot create a token for istio-system/istiod"
  ISTIOD_KUBECONFIG="$D/istiod.kubeconfig"
  component_kubeconfig "$ISTIOD_KUBECONFIG" --token="$istiod_token"

  # The chart Deployment's arguments and environment (istio-discovery templates/deployment.yaml),
  # with every listener on loopback at a free port (pilot/cmd/pilot-discovery/app/cmd.go
  # defaults them to all interfaces at fixed ports) and the serving certificate given by flag
  # (pilot/pkg/bootstrap/server.go hasCustomTLSCertArgs), so the webhook endpoint on
  # 127.0.0.1 presents a certificate for 127.0.0.1 signed by the CA in the caBundles.
  mkdir -p "$D/istiod"
  run_bg pilot-discovery env -C "$D/istiod" \
    REVISION=default \
    PILOT_CERT_PROVIDER=istiod \
    POD_NAME=istiod-e2e \
    POD_NAMESPACE=istio-system \
    SERVICE_ACCOUNT=istiod \
    CA_TRUSTED_NODE_ACCOUNTS=istio-system/ztunnel \
    PILOT_ENABLE_ANALYSIS=false \
    CLUSTER_ID=Kubernetes \
    "$ISTIO_BIN/pilot-discovery" discovery \
    --kubeconfig="$ISTIOD_KUBECONFIG" \
    --domain=cluster.local \
    --keepaliveMaxServerConnectionAge=30m \
    --httpAddr="127.0.0.1:$ISTIOD_HTTP_PORT" \
    --httpsAddr="127.0.0.1:$ISTIOD_HTTPS_PORT" \
    --grpcAddr="127.0.0.1:$ISTIOD_GRPC_PORT" \
    --secureGRPCAddr="127.0.0.1:$ISTIOD_SECURE_GRPC_PORT" \
    --monitoringAddr="127.0.0.1:$ISTIOD_MONITORING_PORT" \
    --ctrlz_address=127.0.0.1 \
    --ctrlz_port="$ISTIOD_CTRLZ_PORT" \
    --caCertFile="$PKI/ca.crt" \
    --tlsCertFile="$PKI/istiod.crt" \
    --tlsKeyFile="$PKI/istiod.key" \
    --shutdownDuration=1s
  ISTIOD_PID="$(awk '$1 == "pilot-discovery" { print $2 }' "$D/pids")"
  deadline=$(( $(date +%s) + timeout_s ))
  until [ "$(curl -sS -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$ISTIOD_HTTP_PORT/ready" 2>/dev/null)" = 200 ]; do
    alive "$ISTIOD_PID" || die "istiod exited (see $D/logs/pilot-discovery.log)"
    [ "$(date +%s)" -lt "$deadline" ] || die "istiod not ready after $timeout_s s (see $D/logs/pilot-discovery.log)"
    sleep 0.5
  done
  # Until the apiserver has loaded the injector's configuration and istiod answers it, a pod
  # would be stored without its proxy: probe with a server-side dry run in an enrolled namespace.
  kc create namespace istio-e2e-probe > /dev/null
  kc label namespace istio-e2e-probe istio-injection=enabled > /dev/null
  # (output captured first: under pipefail `kubectl | grep -q` fails when grep exits early)
  probe_out() { kc run probe -n istio-e2e-probe --image=registry.invalid/probe:1 --restart=Never --dry-run=server -o json 2>&1 || true; }
  until [[ "$(probe_out)" == *'"name": "istio-proxy"'* ]]; do
    alive "$ISTIOD_PID" || die "istiod exited (see $D/logs/pilot-discovery.log)"
    [ "$(date +%s)" -lt "$deadline" ] || die "istiod's injector never answered (see $D/logs/pilot-discovery.log)"
    sleep 0.5
  done
  kc delete namespace istio-e2e-probe --wait=false > /dev/null
  log "istiod $ISTIO_BUILD_VERSION ($ISTIO_VERSION) injecting on $ISTIOD_URL after $(elapsed) s"
fi

cat > "$D/env" <<EOF
MESHLOCK_E2E_DIR=$D
KUBECONFIG=$KUBECONFIG_FILE
KUBECTL=$KUBECTL
E2E_BIN=$BIN
E2E_K8S_VERSION=$K8S_VERSION
E2E_ETCD_VERSION=$ETCD_VERSION
E2E_APISERVER_URL=https://127.0.0.1:$APISERVER_PORT
E2E_APISERVER_PORT=$APISERVER_PORT
E2E_APISERVER_PID=$APISERVER_PID
E2E_ETCD_CLIENT_PORT=$ETCD_CLIENT_PORT
E2E_ETCD_PEER_PORT=$ETCD_PEER_PORT
E2E_ETCD_PID=$ETCD_PID
E2E_CA_FILE=$PKI/ca.crt
E2E_TOKEN=$TOKEN
E2E_AUDIT_LOG=$D/logs/audit.log
E2E_LOG_DIR=$D/logs
E2E_SHARED=$(cd "$SHARED" && pwd)
E2E_KCM_PID=$KCM_PID
E2E_ISTIO=$([ "$WITH_ISTIO" = 0 ] && echo 0 || echo 1)
ISTIOCTL=$([ "$WITH_ISTIO" = 0 ] || echo "$ISTIOCTL")
E2E_ISTIO_VERSION=$ISTIO_VERSION
E2E_ISTIO_BUILD_VERSION=$ISTIO_BUILD_VERSION
E2E_ISTIOD_PID=$ISTIOD_PID
E2E_ISTIOD_URL=$([ "$WITH_ISTIO" = 0 ] || echo "$ISTIOD_URL")
E2E_ISTIOD_MONITORING_URL=$([ "$WITH_ISTIO" = 0 ] || echo "http://127.0.0.1:$ISTIOD_MONITORING_PORT")
E2E_STARTUP_SECONDS=$(elapsed)
EOF
started_ok=1
log "cluster up in $(elapsed) s; env: $D/env"
echo "$D/env"
