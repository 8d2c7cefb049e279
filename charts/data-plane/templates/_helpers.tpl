{{/* The release's full name, at most 63 characters. */}}
{{- define "data-plane.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "data-plane.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "data-plane.labels" -}}
{{ include "data-plane.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: agent-marketplace
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- with .Values.deploymentId }}
agent-marketplace.dev/deployment-id: {{ . | quote }}
{{- end }}
{{- end -}}

{{- define "data-plane.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "data-plane.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{/*
A Kubernetes quantity ("512Mi", "1.5Gi", "500m", "2") as a plain number, so two can be compared.
The schema has already checked the form.
*/}}
{{- define "data-plane.quantity" -}}
{{- $text := toString . -}}
{{- $suffix := regexFind "[a-zA-Z]+$" $text -}}
{{- $units := dict "" 1.0 "m" 0.001 "k" 1e3 "M" 1e6 "G" 1e9 "T" 1e12 "P" 1e15 "E" 1e18 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 "Pi" 1125899906842624.0 "Ei" 1152921504606846976.0 -}}
{{- mulf (trimSuffix $suffix $text | float64) (get $units $suffix) -}}
{{- end -}}

{{/*
The first problem with values that the schema cannot judge alone (rules across fields), or nothing.
templates/validate.yaml turns it into a failure.
*/}}
{{- define "data-plane.problem" -}}
{{- $requests := .Values.resources.requests | default dict -}}
{{- $limits := .Values.resources.limits | default dict -}}
{{- $problems := list -}}
{{- range $name := list "cpu" "memory" -}}
{{- if and (hasKey $requests $name) (hasKey $limits $name) -}}
{{- if gt (include "data-plane.quantity" (get $requests $name) | float64) (include "data-plane.quantity" (get $limits $name) | float64) -}}
{{- $problems = append $problems (printf "resources.requests.%s (%v) is above resources.limits.%s (%v): a pod cannot request more than its limit" $name (get $requests $name) $name (get $limits $name)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if eq .Values.memory.backend "embedded" -}}
{{- if gt (int .Values.replicaCount) 1 -}}
{{- $problems = append $problems (printf "replicaCount is %v, but the embedded memory store is one file on one volume: run 1 replica, or set memory.backend=qdrant" .Values.replicaCount) -}}
{{- end -}}
{{- if .Values.autoscaling.enabled -}}
{{- $problems = append $problems "autoscaling.enabled needs memory.backend=qdrant: the embedded memory store is one file on one volume" -}}
{{- end -}}
{{- end -}}
{{- if and (eq .Values.memory.backend "qdrant") (not .Values.memory.qdrant.url) -}}
{{- $problems = append $problems "memory.backend is qdrant but memory.qdrant.url is empty" -}}
{{- end -}}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) -}}
{{- $problems = append $problems (printf "autoscaling.minReplicas (%v) is above autoscaling.maxReplicas (%v)" .Values.autoscaling.minReplicas .Values.autoscaling.maxReplicas) -}}
{{- end -}}
{{- join "; " $problems -}}
{{- end -}}
