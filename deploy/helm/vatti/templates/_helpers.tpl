{{/* Names and labels. */}}
{{- define "vatti.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "vatti.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "vatti.labels" -}}
{{ include "vatti.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "vatti.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{- define "vatti.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "vatti.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{- define "vatti.jobsNamespace" -}}
{{- .Values.jobs.namespace | default .Release.Namespace -}}
{{- end -}}

{{- define "vatti.jobServiceAccountName" -}}
{{- .Values.jobs.serviceAccount.name | default (printf "%s-job" (include "vatti.fullname" .)) -}}
{{- end -}}

{{/* The variables each workload reads (files/variables.json, generated from vatti's settings). */}}
{{- define "vatti.variables" -}}
{{- .Files.Get "files/variables.json" -}}
{{- end -}}

{{/* A value as the variable's text: whole numbers (which Helm reads as floats) without an
exponent, so 10000000 stays 10000000 rather than 1e+07. */}}
{{- define "vatti.text" -}}
{{- if and (kindIs "float64" .) (eq . (float64 (int64 .))) -}}
{{- int64 . -}}
{{- else -}}
{{- toString . -}}
{{- end -}}
{{- end -}}

{{/* A workload's value of a plain variable: its own env, then the chart-wide env. */}}
{{- define "vatti.setting" -}}
{{- $own := (index .root.Values .values).env | default dict -}}
{{- if hasKey $own .name -}}
{{- include "vatti.text" (index $own .name) -}}
{{- else if hasKey .root.Values.env .name -}}
{{- include "vatti.text" (index .root.Values.env .name) -}}
{{- end -}}
{{- end -}}

{{/* The executor of the pods that run the engine: engine's with postgresql, serve's with sqlite. */}}
{{- define "vatti.executor" -}}
{{- $runner := ternary "engine" "serve" (eq .Values.database "postgresql") -}}
{{- include "vatti.setting" (dict "root" . "values" $runner "name" "VATTI_EXECUTOR") | default "local" -}}
{{- end -}}

{{/*
The env of a workload's container: the chart's own variables, each plain variable the workload
reads that values set (or the chart defaults), and each secret one from existingSecret.
Called with (dict "root" $ "workload" "serve" "values" "serve").
*/}}
{{- define "vatti.env" -}}
{{- $root := .root -}}
{{- $vars := fromJson (include "vatti.variables" $root) -}}
{{- $own := index $vars .workload -}}
{{- $defaults := dict
      "VATTI_K8S_NAMESPACE" (include "vatti.jobsNamespace" $root)
      "VATTI_K8S_SERVICE_ACCOUNT" (include "vatti.jobServiceAccountName" $root)
      "VATTI_K8S_IMAGE" (include "vatti.image" $root) -}}
- name: VATTI_DATA_DIR
  value: {{ $root.Values.dataDir | quote }}
{{- if eq .workload "serve" }}
- name: VATTI_HOST
  value: "0.0.0.0"
- name: VATTI_PORT
  value: {{ $root.Values.serve.port | toString | quote }}
{{- end }}
{{- range $name := $own.plain }}
{{- $value := include "vatti.setting" (dict "root" $root "values" $.values "name" $name) }}
{{- if and (eq $value "") (hasKey $defaults $name) }}
{{- $value = index $defaults $name }}
{{- end }}
{{- if ne $value "" }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end }}
{{- if $root.Values.existingSecret }}
{{- range $name := $own.secret }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ $root.Values.existingSecret | quote }}
      key: {{ $name }}
      optional: true
{{- end }}
{{- end }}
{{- end -}}

{{/* The pod-level parts every workload shares. Called with (dict "root" $ "values" .Values.serve). */}}
{{- define "vatti.podCommon" -}}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The data volume (the PVC of the sqlite topology, else an emptyDir) and /tmp. */}}
{{- define "vatti.volumes" -}}
- name: data
{{- if .Values.persistence.enabled }}
  persistentVolumeClaim:
    claimName: {{ include "vatti.fullname" . }}-data
{{- else }}
  emptyDir: {}
{{- end }}
- name: tmp
  emptyDir: {}
{{- end -}}

{{- define "vatti.volumeMounts" -}}
- name: data
  mountPath: {{ .Values.dataDir }}
- name: tmp
  mountPath: /tmp
{{- end -}}
