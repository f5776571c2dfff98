{{/* The IONOS external-dns webhook beside lbdns: its API on 127.0.0.1:8888 (only lbdns calls it), /healthz
and /metrics on 8080 (METRICS_PORT; nothing else in this pod uses 8080). */}}
{{- define "lbdns.ionosWebhookContainer" -}}
{{- $w := .Values.standalone.ionosWebhook -}}
- name: ionos-webhook
  image: {{ printf "%s:%s" $w.image.repository $w.image.tag | quote }}
  imagePullPolicy: {{ $w.image.pullPolicy }}
  env:
    - name: IONOS_API_KEY
      valueFrom: {secretKeyRef: {name: {{ $w.apiKey.existingSecret | quote }}, key: {{ $w.apiKey.key | quote }}}}
    - {name: SERVER_HOST, value: "127.0.0.1"}
    - {name: SERVER_PORT, value: "8888"}
    - {name: METRICS_PORT, value: "8080"}
    {{- with .Values.domainFilter }}
    - {name: DOMAIN_FILTER, value: {{ join "," . | quote }}}
    {{- end }}
  ports:
    - {name: webhook-health, containerPort: 8080}
  readinessProbe:
    httpGet: {path: /healthz, port: webhook-health}
  livenessProbe:
    httpGet: {path: /healthz, port: webhook-health}
  resources: {{- toYaml $w.resources | nindent 4 }}
  securityContext:
    runAsNonRoot: true
    allowPrivilegeEscalation: false
    readOnlyRootFilesystem: true
    capabilities: {drop: [ALL]}
{{- end -}}
