package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lbdns/lbdns"
	"github.com/lbdns/lbdns/config"
)

func TestHelpListsEveryVariable(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"--help"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	for _, v := range config.Variables() {
		if !strings.Contains(out.String(), v.Name) {
			t.Errorf("--help lacks %s", v.Name)
		}
	}
	if !strings.Contains(out.String(), "2s") {
		t.Error("--help shows no defaults")
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"--version"}, nil, &out); err != nil || !strings.HasPrefix(out.String(), "lbdns "+lbdns.Version()+" (revision ") {
		t.Fatalf("--version: %q, %v", out.String(), err)
	}
}

func TestInvalidConfigurationNamesTheVariable(t *testing.T) {
	err := run(nil, []string{"LBDNS_PROBE_FALL=0"}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "LBDNS_PROBE_FALL") {
		t.Fatalf("err = %v", err)
	}
	if err := run([]string{"extra"}, nil, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "--help") {
		t.Fatalf("unexpected args: %v", err)
	}
}

func TestNoKubeconfigIsAClearError(t *testing.T) {
	env := []string{"KUBECONFIG=/nonexistent/kubeconfig", "LBDNS_HTTP_ADDR=127.0.0.1:0", "LBDNS_CONNECTOR_ADDR=off"}
	t.Setenv("KUBECONFIG", "/nonexistent/kubeconfig")
	t.Setenv("HOME", t.TempDir())
	err := run(nil, env, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "kubeconfig") {
		t.Fatalf("err = %v", err)
	}
}

// An API server that forbids everything, as with missing RBAC rules: the
// caches never sync and lbdns exits with an error that says what to check.
func TestCacheSyncTimeout(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403}`))
	}))
	defer api.Close()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "`+api.URL+`"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", kubeconfig)
	start := time.Now()
	err = run(nil, []string{"LBDNS_HTTP_ADDR=127.0.0.1:0", "LBDNS_CONNECTOR_ADDR=127.0.0.1:0",
		"LBDNS_CACHE_SYNC_TIMEOUT=1s", "LBDNS_LOG_LEVEL=error"}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "LBDNS_CACHE_SYNC_TIMEOUT") || !strings.Contains(err.Error(), "list and watch") {
		t.Fatalf("err = %v", err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("took %s to give up", took)
	}
}

func TestAddressInUseNamesTheVariable(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpAddr := free.Addr().String()
	free.Close()
	ls, err := openListeners(config.Config{HTTP: config.HTTP{Addr: httpAddr}, Connector: config.Connector{Addr: "127.0.0.1:0"}, DNS: config.DNS{Addr: taken.Addr().String()}})
	if err == nil || !strings.Contains(err.Error(), "LBDNS_DNS_ADDR") {
		ls.close()
		t.Fatalf("err = %v, want one naming LBDNS_DNS_ADDR", err)
	}
	// The HTTP socket opened before the failure was closed again.
	again, err := net.Listen("tcp", httpAddr)
	if err != nil {
		t.Fatalf("%s still taken after the failed start: %v", httpAddr, err)
	}
	again.Close()
	ls, err = openListeners(config.Config{HTTP: config.HTTP{Addr: "127.0.0.1:0"}, Connector: config.Connector{Addr: config.ConnectorOff}})
	if err != nil || ls.connector != nil || ls.dnsUDP != nil {
		t.Fatalf("connector off: %+v, %v", ls, err)
	}
	ls.close()
}

func TestCheckConfig(t *testing.T) {
	var out bytes.Buffer
	env := []string{"LBDNS_PROVIDER=rfc2136", "LBDNS_RFC2136_HOST=ns1.example.com", "LBDNS_RFC2136_ZONE=example.com",
		"LBDNS_RFC2136_TSIG_KEYNAME=lbdns", "LBDNS_RFC2136_TSIG_SECRET=c2VjcmV0", "LBDNS_DOMAIN_FILTER=example.com,example.org"}
	if err := run([]string{"--check-config"}, env, &out); err != nil {
		t.Fatal(err)
	}
	values := map[string]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		if name, value, ok := strings.Cut(strings.Join(strings.Fields(line), " "), " "); ok {
			values[name] = value
		}
	}
	for name, want := range map[string]string{"LBDNS_PROBE_INTERVAL": "2s", "LBDNS_RFC2136_HOST": "ns1.example.com",
		"LBDNS_DOMAIN_FILTER": "example.com,example.org", "LBDNS_RFC2136_TSIG_SECRET": "(set, not shown)", "configuration": "is valid"} {
		if values[name] != want {
			t.Errorf("--check-config: %s = %q, want %q", name, values[name], want)
		}
	}
	if strings.Contains(out.String(), "c2VjcmV0") {
		t.Error("--check-config printed the TSIG secret")
	}
	err := run([]string{"--check-config"}, []string{"LBDNS_PROBE_FALL=0"}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "LBDNS_PROBE_FALL") {
		t.Fatalf("--check-config with a bad value: %v", err)
	}
}
