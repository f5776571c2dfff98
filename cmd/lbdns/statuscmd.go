package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/lbdns/lbdns/httpserver"
)

// runStatusCommand is `lbdns status`: it reads /status of a running lbdns,
// directly or through the API server's proxy to its pod, and prints the
// hostnames, their targets, health and reasons as a table.
func runStatusCommand(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("lbdns status", flag.ContinueOnError)
	fs.SetOutput(stdout)
	addr := fs.String("addr", "127.0.0.1:9797", "host:port of lbdns's HTTP server (LBDNS_HTTP_ADDR), e.g. after kubectl port-forward")
	pod := fs.String("pod", "", "namespace/pod[:port] of an lbdns pod, read through the API server's proxy (kubeconfig as kubectl's; needs get on pods/proxy); port 9797 unless given")
	hostname := fs.String("hostname", "", "only this hostname")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for the answer")
	fs.Usage = func() {
		fmt.Fprintln(stdout, "Usage: lbdns status [--addr host:port | --pod namespace/pod[:port]] [--hostname name]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("lbdns status: unexpected arguments %q", fs.Args())
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var body []byte
	var from string
	var err error
	if *pod != "" {
		body, from, err = statusThroughProxy(ctx, *pod)
	} else {
		from = "http://" + *addr + "/status"
		body, err = getStatus(ctx, from)
	}
	if err != nil {
		return err
	}
	var st httpserver.Status
	if err := json.Unmarshal(body, &st); err != nil {
		return fmt.Errorf("%s did not answer with lbdns's /status: %w", from, err)
	}
	printStatus(stdout, st, *hostname)
	return nil
}

func getStatus(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return body, err
}

// statusThroughProxy reads /status of namespace/pod[:port] through the API
// server (GET /api/v1/namespaces/NS/pods/POD:PORT/proxy/status).
func statusThroughProxy(ctx context.Context, pod string) ([]byte, string, error) {
	ns, name, ok := strings.Cut(pod, "/")
	if !ok || ns == "" || name == "" {
		return nil, "", fmt.Errorf("--pod %q: want namespace/pod[:port]", pod)
	}
	if !strings.Contains(name, ":") {
		name += ":9797"
	}
	_, client, err := kubeClient()
	if err != nil {
		return nil, "", err
	}
	path := fmt.Sprintf("/api/v1/namespaces/%s/pods/%s/proxy/status", ns, name)
	body, err := client.CoreV1().RESTClient().Get().AbsPath(path).DoRaw(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("reading %s through the API server: %w", path, err)
	}
	return body, path, nil
}

// printStatus prints a summary line, failing or dry-run outputs, and one
// row per target.
func printStatus(w io.Writer, st httpserver.Status, only string) {
	ready := "ready"
	if !st.Ready {
		ready = "NOT READY"
	}
	fmt.Fprintf(w, "lbdns %s, generation %d, %d hostnames\n", ready, st.Generation, len(st.Hostnames))
	if c := st.Cluster; c != nil && !c.Connected {
		fmt.Fprintf(w, "API server unreachable for %.0fs: %s (targets keep their last state)\n", c.ViewAgeSeconds, c.LastError)
	}
	for _, o := range st.Outputs {
		switch {
		case o.Failing:
			fmt.Fprintf(w, "output %s FAILING (%d syncs): %s\n", o.Output, o.Failures, o.LastError)
		case o.DryRun:
			fmt.Fprintf(w, "output %s dry run: would make %d changes\n", o.Output, len(o.WouldChange))
			for _, c := range o.WouldChange {
				fmt.Fprintf(w, "  %s\n", c)
			}
		}
	}
	var rows [][]string
	for _, h := range st.Hostnames {
		if only != "" && h.Hostname != only {
			continue
		}
		name := h.Hostname
		if h.FailOpen {
			name += " (FAIL OPEN)"
		}
		for _, t := range h.Targets {
			service := t.Namespace + "/" + t.Service
			if t.Cluster != "" {
				service = t.Cluster + "/" + service
			}
			published := "no"
			if t.Published {
				published = "yes"
			}
			why := t.Reason
			if t.Detail != "" {
				why += ": " + t.Detail
			}
			rows = append(rows, []string{name, service, t.IP, t.Node, fmt.Sprint(t.Weight), t.Health, published, why})
		}
		for _, r := range h.Refused {
			rows = append(rows, []string{name, r.Service, "", "", "", "refused", "no", r.Reason + ": " + r.Detail})
		}
	}
	if len(rows) == 0 {
		fmt.Fprintln(w, "no hostnames")
		return
	}
	fmt.Fprintln(w)
	printTable(w, []string{"HOSTNAME", "SERVICE", "IP", "NODE", "WEIGHT", "HEALTH", "PUBLISHED", "REASON"}, rows)
}
