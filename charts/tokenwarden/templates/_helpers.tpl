{{/* Name of the chart, overridable. */}}
{{- define "tokenwarden.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Fully qualified app name: release-chart, unless the release name already holds the chart name. */}}
{{- define "tokenwarden.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "tokenwarden.operatorName" -}}
{{- printf "%s-operator" (include "tokenwarden.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tokenwarden.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "tokenwarden.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tokenwarden
{{- end -}}

{{- define "tokenwarden.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tokenwarden.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "tokenwarden.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tokenwarden.operatorName" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "tokenwarden.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* The MutatingWebhookConfiguration (cluster-scoped, so named after the release). */}}
{{- define "tokenwarden.webhookName" -}}
{{- include "tokenwarden.fullname" . -}}
{{- end -}}

{{/* Namespaces the webhook never sees: kube-system, the release's own, and the extra ones. */}}
{{- define "tokenwarden.excludedNamespaces" -}}
{{- $list := list "kube-system" .Release.Namespace -}}
{{- range .Values.webhook.excludeNamespaces -}}
{{- $list = append $list . -}}
{{- end -}}
{{- toJson (uniq $list) -}}
{{- end -}}

{{/* Where injected sidecars find the operator (the serving certificate holds this name). */}}
{{- define "tokenwarden.controlPlaneUrl" -}}
{{- printf "https://%s.%s.svc:%d" .Values.service.name .Release.Namespace (int .Values.service.port) -}}
{{- end -}}

{{- define "tokenwarden.certificateName" -}}
{{- printf "%s-serving" (include "tokenwarden.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
