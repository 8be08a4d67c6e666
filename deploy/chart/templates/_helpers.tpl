{{/* Labels of every object: the same as deploy/ (kustomize adds part-of), plus commonLabels. */}}
{{- define "meshlock.labels" -}}
app.kubernetes.io/name: meshlock
app.kubernetes.io/part-of: meshlock
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "meshlock.selectorLabels" -}}
app.kubernetes.io/name: meshlock
app.kubernetes.io/component: webhook
{{- end -}}

{{- define "meshlock.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* Namespaces the namespace and workload webhooks never see: POLICY.md's system namespaces, the
     root namespace and meshlock's own (so its pods start while it is down). */}}
{{- define "meshlock.excludedNamespaces" -}}
{{- $ns := concat .Values.config.systemNamespaces (list .Values.config.rootNamespace .Release.Namespace) -}}
{{- if eq (include "meshlock.mesh" .) "linkerd" -}}
{{- $ns = concat $ns (list (include "meshlock.linkerdControlPlane" .) "linkerd-cni" "cert-manager") -}}
{{- end -}}
[{{ join ", " (uniq $ns) }}]
{{- end -}}

{{/* istio or linkerd (docs/POLICY-LINKERD.md). */}}
{{- define "meshlock.mesh" -}}
{{- .Values.config.mesh | default "istio" -}}
{{- end -}}

{{- define "meshlock.linkerdControlPlane" -}}
{{- (.Values.config.linkerd | default dict).controlPlaneNamespace | default "linkerd" -}}
{{- end -}}

{{/* With mesh linkerd, Linkerd's settings with their defaults spelled out (as deploy/overlays/linkerd). */}}
{{- define "meshlock.linkerdConfig" -}}
{{- $defaults := dict "controlPlaneNamespace" "linkerd" "clusterDefaultInboundPolicy" "all-unauthenticated" "namespaceDefaultInboundPolicy" "all-authenticated" -}}
{{- toYaml (merge (deepCopy (.Values.config.linkerd | default dict)) $defaults) -}}
{{- end -}}

{{/* The config file: .Values.config with the mode (dry-run when .Values.dryRun). */}}
{{- define "meshlock.config" -}}
{{- $mode := ternary "dry-run" .Values.mode .Values.dryRun -}}
{{- $config := merge (dict "mode" $mode) (deepCopy .Values.config) -}}
{{- if eq (include "meshlock.mesh" .) "linkerd" -}}
{{- $_ := set $config "linkerd" (fromYaml (include "meshlock.linkerdConfig" .)) -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}

{{- define "meshlock.webhookCommon" -}}
failurePolicy: {{ .Values.webhook.failurePolicy }}
matchPolicy: Equivalent
sideEffects: None
admissionReviewVersions: [v1, v1beta1]
timeoutSeconds: {{ .Values.webhook.timeoutSeconds }}
{{- end -}}

{{- define "meshlock.clientConfig" -}}
clientConfig:
  service:
    name: meshlock
    namespace: {{ .root.Release.Namespace }}
    path: {{ .path }}
    port: 443
{{- end -}}

{{- define "meshlock.workloadRules" -}}
rules:
  - apiGroups: [""]
    apiVersions: [v1]
    resources: [pods, replicationcontrollers]
    operations: [CREATE, UPDATE]
    scope: Namespaced
  - apiGroups: [apps]
    apiVersions: [v1]
    resources: [deployments, statefulsets, daemonsets, replicasets]
    operations: [CREATE, UPDATE]
    scope: Namespaced
  - apiGroups: [batch]
    apiVersions: [v1]
    resources: [jobs, cronjobs]
    operations: [CREATE, UPDATE]
    scope: Namespaced
{{- end -}}

{{/* Pods are mutated on CREATE only (meshlock never patches a running or terminating pod); templates on CREATE and UPDATE. */}}
{{- define "meshlock.workloadMutationRules" -}}
rules:
  - apiGroups: [""]
    apiVersions: [v1]
    resources: [pods]
    operations: [CREATE]
    scope: Namespaced
  - apiGroups: [""]
    apiVersions: [v1]
    resources: [replicationcontrollers]
    operations: [CREATE, UPDATE]
    scope: Namespaced
  - apiGroups: [apps]
    apiVersions: [v1]
    resources: [deployments, statefulsets, daemonsets, replicasets]
    operations: [CREATE, UPDATE]
    scope: Namespaced
  - apiGroups: [batch]
    apiVersions: [v1]
    resources: [jobs, cronjobs]
    operations: [CREATE, UPDATE]
    scope: Namespaced
{{- end -}}

{{- define "meshlock.namespaceRules" -}}
rules:
  - apiGroups: [""]
    apiVersions: [v1]
    resources: [namespaces]
    operations: [CREATE, UPDATE]
    scope: Cluster
{{- end -}}

{{- define "meshlock.namespaceSelector" -}}
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values: {{ include "meshlock.excludedNamespaces" . }}
{{- end -}}

{{/* The mutating workload webhook also leaves ambient namespaces out: Istio's object-selector injector would answer the injection label with a sidecar. Not with mesh linkerd, where that label means nothing and would only be a tenant's way out. */}}
{{- define "meshlock.workloadMutationNamespaceSelector" -}}
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values: {{ include "meshlock.excludedNamespaces" . }}
    {{- if ne (include "meshlock.mesh" .) "linkerd" }}
    - key: istio.io/dataplane-mode
      operator: NotIn
      values: [ambient]
    {{- end }}
{{- end -}}

{{- define "meshlock.webhookAnnotations" -}}
{{- if .Values.certManager.enabled }}
annotations:
  cert-manager.io/inject-ca-from: {{ .Release.Namespace }}/meshlock-serving
{{- end }}
{{- end -}}
