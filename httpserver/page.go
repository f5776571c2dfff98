package httpserver

import (
	"html/template"
	"net/http"
	"time"
)

// page is the HTML status page: server-rendered, no external assets, and it
// reloads itself every few seconds.
var page = template.Must(template.New("status").Funcs(template.FuncMap{
	"ago": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return time.Since(*t).Truncate(time.Second).String() + " ago"
	},
	"clock": func(t time.Time) string { return t.Format("15:04:05") },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="2">
<title>lbdns status</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .4em 0 1em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; font-size: .92em; }
th { background: #f3f3f3; }
.healthy { color: #11742f; font-weight: 600; } .unhealthy { color: #b3261e; font-weight: 600; } .pending { color: #8a6d00; }
.badge { display: inline-block; padding: 0 .5em; border-radius: .6em; font-size: .85em; }
.failopen, .failing { background: #b3261e; color: #fff; } .notready { background: #8a6d00; color: #fff; }
.muted { color: #777; }
.note { color: #8a5a00; font-size: .9em; }
</style>
</head>
<body>
<h1>lbdns</h1>
<p>{{if .Ready}}Ready{{else}}<span class="badge notready">not ready: waiting for caches and the first probe round</span>{{end}}
 · generation {{.Generation}} · hostnames: {{len .Hostnames}} · <a href="/status">JSON</a> · <a href="/metrics">metrics</a></p>
{{with .Cluster}}{{range .Forbidden}}<p class="cluster-forbidden"><span class="badge failing">missing permission</span> {{.}}</p>
{{end}}{{if not .Connected}}<p class="cluster-stale"><span class="badge failing">API server unreachable</span>
 since {{ago .LostSince}}: the view of the cluster is that old; probes still decide. {{.LastError}}</p>
{{end}}{{end}}
{{range .Clusters}}{{if and (not .Local) (not .Connected)}}<p class="cluster-stale"><span class="badge failing">cluster {{.Name}} unreachable</span>
 since {{ago .LostSince}}: its targets keep their last Kubernetes state; probes alone decide for them. {{.LastError}}</p>
{{end}}{{end}}{{range .Outputs}}{{if .Failing}}<p class="output-failing"><span class="badge failing">output {{.Output}} failing</span>
 since {{ago .FailingSince}} ({{.Failures}} syncs in a row): {{.LastError}}</p>
{{end}}{{end}}
{{range .Hostnames}}
<h2 id="{{.Hostname}}">{{.Hostname}} <span class="muted">TTL {{.TTL}}{{with .Owner}}, owned by namespace {{.}}{{end}}</span>{{if .FailOpen}} <span class="badge failopen">fail-open: no target healthy, all published</span>{{end}}{{if .ExternalDNSConflicts}} <span class="badge failopen">also external-dns's own annotation on {{range $i, $s := .ExternalDNSConflicts}}{{if $i}}, {{end}}{{$s}}{{end}}: one of the two record sets is lost</span>{{end}}</h2>
{{range .Refused}}<p class="refused"><span class="badge failing">{{.Reason}}</span> {{.Service}}: {{.Detail}}</p>
{{end}}<p>Published: {{range $i, $ip := .Published}}{{if $i}}, {{end}}<code>{{$ip}}</code>{{else}}<em>nothing</em>{{end}}</p>
<p>Capacity: <strong>{{.Capacity.Bandwidth}}bit/s</strong> on {{.Capacity.Nodes}} node{{if ne .Capacity.Nodes 1}}s{{end}}{{if .Capacity.UnmappedIPs}} <span class="muted">(and {{.Capacity.UnmappedIPs}} published IP{{if ne .Capacity.UnmappedIPs 1}}s{{end}} on no known node, not counted)</span>{{end}}{{with .Capacity.Floor}} <span class="muted">(floor: {{if .Nodes}}{{.Nodes}} node{{if ne .Nodes 1}}s{{end}}{{end}}{{if and .Nodes .Bandwidth}}, {{end}}{{if .Bandwidth}}{{.Bandwidth}}bit/s{{end}})</span>{{end}}{{if .Capacity.Low}} <span class="badge failing">capacity low: below the floor</span>{{end}}{{range .Capacity.SharedNodes}} <span class="badge failopen">{{range $i, $ip := .IPs}}{{if $i}}, {{end}}{{$ip}}{{end}} share node {{.Node}}: one node's capacity</span>{{end}}</p>
<table>
<tr><th>Service</th><th>IP</th><th>Node</th><th>Weight</th><th>Health</th><th>Published</th><th>Reason</th><th>Detail</th><th>Since</th><th>Checks</th></tr>
{{range .Targets}}<tr class="target" data-ip="{{.IP}}" data-health="{{.Health}}">
<td>{{with .Cluster}}<span class="muted">{{.}}/</span>{{end}}{{.Namespace}}/{{.Service}}</td><td><code>{{.IP}}</code></td><td>{{.Node}}{{if eq .NodeMappedBy "agent"}} <span class="muted">(agent)</span>{{end}}</td><td>{{.Weight}}</td>
<td class="{{.Health}}">{{.Health}}</td><td>{{if .Published}}yes{{else}}no{{end}}</td>
<td>{{.Reason}}</td><td>{{.Detail}}{{range .Notes}}<div class="note">&#9888; {{.}}</div>{{end}}</td><td>{{ago .Since}}</td><td>{{if .Probe}}{{.Probe.Checks}}{{else}}<span class="muted">none</span>{{end}}</td></tr>
{{end}}</table>
{{else}}<p><em>No Service has the hostname annotation yet.</em></p>
{{end}}
<h2>Last transitions</h2>
{{if .Transitions}}<table>
<tr><th>Time</th><th>Target</th><th>Hostnames</th><th>To</th><th>Reason</th><th>Detail</th></tr>
{{range .Transitions}}<tr><td>{{clock .At}}</td><td>{{.Target}}</td><td>{{range $i, $h := .Hostnames}}{{if $i}}, {{end}}{{$h}}{{end}}</td>
<td class="{{.To}}">{{.To}}</td><td>{{.Reason}}</td><td>{{.Detail}}</td></tr>
{{end}}</table>{{else}}<p><em>None yet.</em></p>{{end}}
{{if .Outputs}}<h2>Outputs</h2>
<table>
<tr><th>Output</th><th>State</th><th>Last success</th><th>Last error</th></tr>
{{range .Outputs}}<tr><td>{{.Output}}</td><td class="{{if .Failing}}unhealthy{{else}}healthy{{end}}">{{if .Failing}}failing since {{ago .FailingSince}}{{else}}ok{{end}}</td>
<td>{{ago .LastSuccess}}</td><td>{{.LastError}}</td></tr>
{{if .DryRun}}<tr class="dry-run"><td colspan="4"><span class="badge">dry run</span> {{.Output}} writes nothing;
{{if .WouldChange}}its last sync would have made {{len .WouldChange}} changes:<ul>{{range .WouldChange}}<li><code>{{.}}</code></li>{{end}}</ul>
{{else}}its last sync found nothing to change.{{end}}</td></tr>{{end}}
{{end}}</table>{{end}}
{{if .Agents}}<h2>Node agents</h2>
<table>
<tr><th>Node</th><th>Address</th><th>State</th><th>IPs placed</th><th>Last answer</th><th>Last error</th></tr>
{{range .Agents}}<tr class="agent"><td>{{.Node}}</td><td><code>{{.Address}}</code></td><td class="{{if .Answering}}healthy{{else}}unhealthy{{end}}">{{if .Answering}}answering{{else}}not answering{{end}}</td>
<td>{{.IPs}}</td><td>{{ago .LastAnswer}}</td><td>{{.LastError}}</td></tr>
{{end}}</table>{{range $ip, $nodes := .AmbiguousIPs}}<p class="note">&#9888; {{$ip}} is reported by the agents of {{range $i, $n := $nodes}}{{if $i}}, {{end}}{{$n}}{{end}}: placed by Node addresses, if at all</p>
{{end}}{{end}}
{{if .Sets}}<h2>LoadBalancerSets</h2>
<table>
<tr><th>Set</th><th>Hostname</th><th>Ready / desired</th><th>Nodes</th><th>Capacity</th><th>Traffic</th><th>Last decision</th></tr>
{{range .Sets}}<tr class="set"><td>{{.Namespace}}/{{.Name}}{{if .DryRun}} <span class="badge">dry run</span>{{end}}</td><td>{{.Hostname}}</td>
<td class="{{if lt .Status.Ready .Status.Desired}}unhealthy{{else}}healthy{{end}}">{{.Status.Ready}} / {{.Status.Desired}}</td>
<td>{{range $i, $n := .Status.Nodes}}{{if $i}}, {{end}}{{$n}}{{end}}</td><td>{{.Status.Capacity}}</td><td>{{.Status.Traffic}}</td>
<td>{{.Status.LastDecision}}{{if .Error}}<br><span class="unhealthy">{{.Error}}</span>{{end}}</td></tr>
{{end}}</table>{{end}}
</body>
</html>
`))

func servePage(status func() Status) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := page.Execute(w, status()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	}
}
