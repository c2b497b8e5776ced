{{/* Chart name. */}}
{{- define "haven.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{/* Resource name prefix; short enough that "-family-tracing" still fits a 63-character name. */}}
{{- define "haven.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "haven.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels shared by every resource. */}}
{{- define "haven.commonLabels" -}}
helm.sh/chart: {{ include "haven.chart" . }}
app.kubernetes.io/name: {{ include "haven.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: haven
{{- end -}}

{{/* Selector of every pod of the release. */}}
{{- define "haven.releaseSelector" -}}
app.kubernetes.io/name: {{ include "haven.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "gateway"). */}}
{{- define "haven.selectorLabels" -}}
{{ include "haven.releaseSelector" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Labels of one component's resources: (dict "root" $ "component" "gateway"). */}}
{{- define "haven.labels" -}}
{{ include "haven.commonLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "haven.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "haven.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The image reference; the tag defaults to the chart's appVersion and is never "latest". */}}
{{- define "haven.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag | toString -}}
{{- if eq $tag "latest" -}}
{{- fail "image.tag must be a pinned version, not \"latest\"" -}}
{{- end -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}

{{/*
What the chart knows about each component, keyed as in .Values.components: the `haven serve` role, the
resource suffix, the variables it is configured by, its database key in the Secret, and which components
it calls over gRPC (this drives both the URLs it is given and the NetworkPolicies of its callees).
Variables are config key paths: HAVEN_<SECTION>__<KEY> sets <section>.<key> (deploy/haven.example.toml).
A caller reaches a callee through HAVEN_<caller section>__<callee urlKey>, e.g. the gateway's
HAVEN_GATEWAY__IDENTITY_URL (gateway.identity_url) and family tracing's HAVEN_FAMILY_TRACING__IDENTITY_URL.
*/}}
{{- define "haven.componentMeta" -}}
gateway:
  suffix: gateway
  serve: gateway
  section: GATEWAY
  listenEnv: HAVEN_GATEWAY__LISTEN
  urlKey: ""
  databaseEnv: ""
  databaseKey: ""
  calls: [identity, familyTracing, learning]
identity:
  suffix: identity
  serve: identity
  section: IDENTITY
  listenEnv: HAVEN_IDENTITY__LISTEN
  urlKey: IDENTITY_URL
  databaseEnv: HAVEN_IDENTITY__DATABASE_URL
  databaseKey: identityDatabaseUrl
  calls: []
familyTracing:
  suffix: family-tracing
  serve: family-tracing
  section: FAMILY_TRACING
  listenEnv: HAVEN_FAMILY_TRACING__LISTEN
  urlKey: FAMILY_TRACING_URL
  databaseEnv: HAVEN_FAMILY_TRACING__DATABASE_URL
  databaseKey: familyTracingDatabaseUrl
  calls: [identity]
learning:
  suffix: learning
  serve: learning
  section: LEARNING
  listenEnv: HAVEN_LEARNING__LISTEN
  urlKey: LEARNING_URL
  databaseEnv: HAVEN_LEARNING__DATABASE_URL
  databaseKey: learningDatabaseUrl
  calls: []
{{- end -}}

{{/* Environment shared by every component and the migration Job. */}}
{{- define "haven.commonEnv" -}}
- name: HAVEN_DATA_DIR
  value: /tmp/haven
- name: HAVEN_LOG
  value: {{ .Values.logLevel | quote }}
- name: HAVEN_LOG_FORMAT
  value: {{ .Values.logFormat | quote }}
{{- with .Values.auth.issuer }}
- name: HAVEN_AUTH__ISSUER
  value: {{ . | quote }}
{{- end }}
{{- with .Values.auth.audience }}
- name: HAVEN_AUTH__AUDIENCE
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* A variable read from the existing Secret: (dict "root" $ "name" "HAVEN_X" "key" "secretKey"). */}}
{{- define "haven.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .root.Values.secrets.existingSecret }}
      key: {{ .key }}
{{- end -}}

{{/* Pod volumes shared by every pod: a writable /tmp and the Secret's files. */}}
{{- define "haven.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end -}}
