{{- define "control-plane.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "control-plane.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: cp-api
{{- end -}}

{{- define "control-plane.commonLabels" -}}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: agent-marketplace
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "control-plane.labels" -}}
{{ include "control-plane.selectorLabels" . }}
{{ include "control-plane.commonLabels" . }}
{{- end -}}

{{- define "control-plane.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "control-plane.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{- define "control-plane.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* The restricted pod and container security contexts every workload here uses. */}}
{{- define "control-plane.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "control-plane.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* The database and signing-key environment cp-api needs, from the referenced Secrets. */}}
{{- define "control-plane.secretEnv" -}}
- name: CP_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.existingSecret | quote }}
      key: {{ .Values.database.key | quote }}
{{- if .Values.signingKey.existingSecret }}
- name: CP_SIGNING_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.signingKey.existingSecret | quote }}
      key: {{ .Values.signingKey.key | quote }}
{{- end }}
{{- end -}}

{{- define "control-plane.quantity" -}}
{{- $text := toString . -}}
{{- $suffix := regexFind "[a-zA-Z]+$" $text -}}
{{- $units := dict "" 1.0 "m" 0.001 "k" 1e3 "M" 1e6 "G" 1e9 "T" 1e12 "P" 1e15 "E" 1e18 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 "Pi" 1125899906842624.0 "Ei" 1152921504606846976.0 -}}
{{- mulf (trimSuffix $suffix $text | float64) (get $units $suffix) -}}
{{- end -}}

{{/* The problems of a resources block that requests more than its limits. Takes (list "where" resources). */}}
{{- define "control-plane.resourceProblems" -}}
{{- $where := index . 0 -}}
{{- $requests := (index . 1).requests | default dict -}}
{{- $limits := (index . 1).limits | default dict -}}
{{- range $name := list "cpu" "memory" -}}
{{- if and (hasKey $requests $name) (hasKey $limits $name) -}}
{{- if gt (include "control-plane.quantity" (get $requests $name) | float64) (include "control-plane.quantity" (get $limits $name) | float64) -}}
{{- printf "%s.requests.%s (%v) is above %s.limits.%s (%v): a pod cannot request more than its limit; " $where $name (get $requests $name) $where $name (get $limits $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Every problem with values that the schema cannot judge alone (rules across fields), or nothing.
templates/validate.yaml turns them into a failure.
*/}}
{{- define "control-plane.problem" -}}
{{- $text := "" -}}
{{- $text = print $text (include "control-plane.resourceProblems" (list "resources" .Values.resources)) -}}
{{- $text = print $text (include "control-plane.resourceProblems" (list "migration.resources" .Values.migration.resources)) -}}
{{- range $index, $dp := .Values.saasDataPlanes.deployments -}}
{{- $text = print $text (include "control-plane.resourceProblems" (list (printf "saasDataPlanes.deployments[%d].resources" $index) ($dp.resources | default dict))) -}}
{{- end -}}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) -}}
{{- $text = print $text (printf "autoscaling.minReplicas (%v) is above autoscaling.maxReplicas (%v); " .Values.autoscaling.minReplicas .Values.autoscaling.maxReplicas) -}}
{{- end -}}
{{- if and .Values.saasDataPlanes.enabled .Values.saasDataPlanes.deployments (not .Values.saasDataPlanes.qdrantUrl) -}}
{{- $text = print $text "saasDataPlanes.qdrantUrl is required: SaaS data planes keep their memory in Qdrant; " -}}
{{- end -}}
{{- trimSuffix "; " $text -}}
{{- end -}}

{{/* The OpenTelemetry environment of cp-api and the SaaS data planes, when a collector is named. */}}
{{- define "control-plane.telemetryEnv" -}}
{{- with .Values.telemetry.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
- name: OTEL_METRIC_EXPORT_INTERVAL
  value: {{ $.Values.telemetry.metricExportIntervalMs | quote }}
{{- end }}
{{- end }}
