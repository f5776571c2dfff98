{{/* The lbdns container's environment: one LBDNS_* variable per setting (see lbdns --help). */}}
{{- define "lbdns.env" -}}
{{- $v := .Values -}}
- {name: LBDNS_CONNECTOR_ADDR, value: "off"} # the connector serves only its own pod: see external-dns-sidecar-values.yaml
- {name: LBDNS_HTTP_ADDR, value: {{ printf ":%d" (int $v.metrics.service.port) | quote }}}
- {name: LBDNS_LOG_LEVEL, value: {{ $v.log.level | quote }}}
- {name: LBDNS_LOG_FORMAT, value: {{ $v.log.format | quote }}}
- {name: LBDNS_ANNOTATION_PREFIX, value: {{ $v.annotationPrefix | quote }}}
- {name: LBDNS_CLUSTER_NAME, value: {{ $v.clusterName | quote }}}
- {name: LBDNS_LOCAL_CLUSTER, value: {{ $v.localCluster | quote }}}
{{- with $v.clusters }}
{{- $list := list }}
{{- range . }}{{ $list = append $list (printf "%s=/etc/lbdns/clusters/%s/kubeconfig" .name .name) }}{{ end }}
- {name: LBDNS_CLUSTERS, value: {{ join "," $list | quote }}}
{{- end }}
{{- with $v.watchNamespace }}
- {name: LBDNS_NAMESPACE, value: {{ . | quote }}}
{{- end }}
{{- $minTTL := int $v.minTTL }}
{{- if $v.standalone.ionosWebhook.enabled }}{{ $minTTL = max $minTTL 60 | int }}{{ end }}
- {name: LBDNS_TTL, value: {{ max (int $v.ttl) $minTTL | quote }}}
{{- if gt $minTTL 0 }}
- {name: LBDNS_MIN_TTL, value: {{ $minTTL | quote }}}
{{- end }}
- {name: LBDNS_FAIL_OPEN, value: {{ $v.failOpen | quote }}}
- {name: LBDNS_PROBE_INTERVAL, value: {{ $v.probe.interval | quote }}}
- {name: LBDNS_PROBE_TIMEOUT, value: {{ $v.probe.timeout | quote }}}
{{- with $v.probe.downInterval }}
- {name: LBDNS_PROBE_DOWN_INTERVAL, value: {{ . | quote }}}
{{- end }}
{{- with $v.probe.fastInterval }}
- {name: LBDNS_PROBE_FAST_INTERVAL, value: {{ . | quote }}}
{{- end }}
- {name: LBDNS_PROBE_FALL, value: {{ $v.probe.fall | quote }}}
- {name: LBDNS_PROBE_RISE, value: {{ $v.probe.rise | quote }}}
- {name: LBDNS_SYNC_INTERVAL, value: {{ $v.syncInterval | quote }}}
{{- if $v.dryRun }}
- {name: LBDNS_DRY_RUN, value: "true"}
{{- end }}
{{- with $v.domainFilter }}
- {name: LBDNS_DOMAIN_FILTER, value: {{ join "," . | quote }}}
{{- end }}
- {name: LBDNS_LEADER_ELECT, value: {{ $v.leaderElection.enabled | quote }}}
- {name: LBDNS_LEADER_ELECT_NAME, value: {{ include "lbdns.fullname" . | quote }}} # one Lease per release
- name: LBDNS_LEADER_ELECT_NAMESPACE
  valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
{{- with $v.standalone.provider }}
{{ include "lbdns.standaloneEnv" $ }}
{{- end }}
{{- if include "lbdns.dnsEndpointOn" . }}
- {name: LBDNS_CRD_NAMESPACE, value: {{ include "lbdns.dnsEndpointNamespace" . | quote }}}
{{- end }}
{{- if $v.dns.enabled }}
- {name: LBDNS_DNS_ADDR, value: {{ printf ":%d" (int $v.dns.containerPort) | quote }}}
- {name: LBDNS_DNS_ZONES, value: {{ join "," $v.dns.zones | quote }}}
{{- with $v.dns.ns }}
- {name: LBDNS_DNS_NS, value: {{ . | quote }}}
{{- end }}
{{- with $v.dns.nsAddresses }}
- {name: LBDNS_DNS_NS_ADDRESSES, value: {{ join "," . | quote }}}
{{- end }}
{{- with $v.dns.hostmaster }}
- {name: LBDNS_DNS_HOSTMASTER, value: {{ . | quote }}}
{{- end }}
- {name: LBDNS_DNS_RRL_RATE, value: {{ $v.dns.rrl.rate | quote }}}
- {name: LBDNS_DNS_RRL_SLIP, value: {{ $v.dns.rrl.slip | quote }}}
{{- with $v.dns.rrl.exempt }}
- {name: LBDNS_DNS_RRL_EXEMPT, value: {{ join "," . | quote }}}
{{- end }}
{{- with $v.dns.transfer.allow }}
- {name: LBDNS_DNS_TRANSFER_ALLOW, value: {{ join "," . | quote }}}
{{- end }}
{{- with $v.dns.transfer.notify }}
- {name: LBDNS_DNS_NOTIFY, value: {{ join "," . | quote }}}
{{- end }}
{{- with $v.dns.transfer.tsig }}{{ if .existingSecret }}
- {name: LBDNS_DNS_TSIG_NAME, value: {{ .name | quote }}}
- {name: LBDNS_DNS_TSIG_ALG, value: {{ .algorithm | quote }}}
- name: LBDNS_DNS_TSIG_SECRET
  valueFrom: {secretKeyRef: {name: {{ .existingSecret | quote }}, key: {{ .key | quote }}}}
{{- end }}{{ end }}
{{- end }}
{{- if $v.agent.enabled }}
- {name: LBDNS_AGENT_PORT, value: {{ $v.agent.port | quote }}}
- {name: LBDNS_AGENT_INTERVAL, value: {{ $v.agent.interval | quote }}}
- name: LBDNS_AGENT_TOKEN
  valueFrom: {secretKeyRef: {name: {{ include "lbdns.agentTokenSecret" $ | quote }}, key: {{ $v.agent.token.key | quote }}}}
{{- end }}
{{- if $v.sets.enabled }}
- {name: LBDNS_SETS, value: "true"}
- {name: LBDNS_SETS_INTERVAL, value: {{ $v.sets.interval | quote }}}
{{- end }}
{{- with $v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "lbdns.standaloneEnv" -}}
{{- $s := .Values.standalone -}}
- {name: LBDNS_PROVIDER, value: {{ $s.provider | quote }}}
{{- with $s.txtOwnerId }}
- {name: LBDNS_TXT_OWNER_ID, value: {{ . | quote }}}
{{- end }}
- {name: LBDNS_POLICY, value: {{ $s.policy | quote }}}
{{- if eq $s.provider "rfc2136" }}
- {name: LBDNS_RFC2136_HOST, value: {{ $s.rfc2136.host | quote }}}
- {name: LBDNS_RFC2136_PORT, value: {{ $s.rfc2136.port | quote }}}
- {name: LBDNS_RFC2136_ZONE, value: {{ join "," $s.rfc2136.zones | quote }}}
{{- if $s.rfc2136.insecure }}
- {name: LBDNS_RFC2136_INSECURE, value: "true"}
{{- else }}
- {name: LBDNS_RFC2136_TSIG_KEYNAME, value: {{ $s.rfc2136.tsigKeyName | quote }}}
- {name: LBDNS_RFC2136_TSIG_SECRET_ALG, value: {{ $s.rfc2136.tsigSecretAlg | quote }}}
- name: LBDNS_RFC2136_TSIG_SECRET
  valueFrom: {secretKeyRef: {name: {{ $s.rfc2136.tsigSecret.existingSecret | quote }}, key: {{ $s.rfc2136.tsigSecret.key | quote }}}}
{{- end }}
{{- else if $s.ionosWebhook.enabled }}
- {name: LBDNS_WEBHOOK_URL, value: "http://127.0.0.1:8888"} # the ionos-webhook container
- {name: LBDNS_WEBHOOK_INCREMENTAL, value: "true"} # single records, additions first: a name never goes empty
{{- else }}
- {name: LBDNS_WEBHOOK_URL, value: {{ $s.webhook.url | quote }}}
{{- end }}
{{- end -}}
