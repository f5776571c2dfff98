{{/* The chart's name, or nameOverride. */}}
{{- define "lbdns.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's objects are named after it; "lbdns" when the release is called lbdns; fullnameOverride
     names them outright. */}}
{{- define "lbdns.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "lbdns.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "lbdns.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "lbdns.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lbdns.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The image: repository:tag (the chart's appVersion unless image.tag), or repository@digest. */}}
{{- define "lbdns.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The agent's own labels: lbdns's selector (Service, PodDisruptionBudget) must not pick its pods. */}}
{{- define "lbdns.agentSelectorLabels" -}}
app.kubernetes.io/name: {{ include "lbdns.name" . }}-agent
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "lbdns.labels" -}}
{{ include "lbdns.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "lbdns.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "lbdns.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* dnsEndpoint.enabled null means: on when no other output is. Renders "true" or "". */}}
{{- define "lbdns.dnsEndpointOn" -}}
{{- $v := .Values.dnsEndpoint.enabled -}}
{{- if kindIs "bool" $v -}}
{{- if $v }}true{{ end -}}
{{- else if and (not .Values.standalone.provider) (not .Values.dns.enabled) -}}
true
{{- end -}}
{{- end -}}

{{- define "lbdns.dnsEndpointNamespace" -}}
{{- default .Release.Namespace .Values.dnsEndpoint.namespace -}}
{{- end -}}

{{/* Writers change DNS (or DNSEndpoints): with several replicas only the Lease holder may. */}}
{{- define "lbdns.hasWriters" -}}
{{- if or .Values.standalone.provider (include "lbdns.dnsEndpointOn" .) }}true{{ end -}}
{{- end -}}

{{/* Settings the schema cannot express across fields; each message names the value to fix. */}}
{{- define "lbdns.validate" -}}
{{- if not (or (include "lbdns.hasWriters" .) .Values.dns.enabled) -}}
{{- fail "lbdns: no output is on: set standalone.provider, dnsEndpoint.enabled=true or dns.enabled=true" -}}
{{- end -}}
{{- if and (include "lbdns.hasWriters" .) (gt (int .Values.replicas) 1) (not .Values.leaderElection.enabled) -}}
{{- fail "lbdns: replicas > 1 with a writer (standalone or dnsEndpoint) needs leaderElection.enabled=true, or the replicas write against each other" -}}
{{- end -}}
{{- if eq .Values.standalone.provider "rfc2136" -}}
{{- $r := .Values.standalone.rfc2136 -}}
{{- if or (not $r.host) (not $r.zones) -}}
{{- fail "lbdns: standalone.provider=rfc2136 needs standalone.rfc2136.host and standalone.rfc2136.zones" -}}
{{- end -}}
{{- if and (not $r.insecure) (or (not $r.tsigKeyName) (not $r.tsigSecret.existingSecret)) -}}
{{- fail "lbdns: standalone.provider=rfc2136 needs standalone.rfc2136.tsigKeyName and tsigSecret.existingSecret (or insecure=true)" -}}
{{- end -}}
{{- end -}}
{{- if and .Values.standalone.ionosWebhook.enabled (ne .Values.standalone.provider "webhook") -}}
{{- fail "lbdns: standalone.ionosWebhook.enabled needs standalone.provider=webhook" -}}
{{- end -}}
{{- if and .Values.dns.enabled (not .Values.dns.zones) -}}
{{- fail "lbdns: dns.enabled needs dns.zones" -}}
{{- end -}}
{{- end -}}

{{/* The Secret of the node agents' token: the user's, or the one the chart generates. */}}
{{- define "lbdns.agentTokenSecret" -}}
{{- .Values.agent.token.existingSecret | default (printf "%s-agent-token" (include "lbdns.fullname" .)) -}}
{{- end }}
