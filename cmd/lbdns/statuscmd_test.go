package main

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lbdns/lbdns/httpserver"
	"github.com/lbdns/lbdns/internal/testsnap"
	"github.com/lbdns/lbdns/model"
)

type readyState struct{ snap *model.Snapshot }

func (s readyState) Snapshot() *model.Snapshot { return s.snap }
func (s readyState) IsReady() bool             { return true }

// lbdns status reads a running lbdns's /status and prints one row per target.
func TestStatusCommand(t *testing.T) {
	snap := testsnap.Build(7, map[string][]string{"app.example.com": {"192.0.2.1", "192.0.2.2"}, "other.example.com": {"192.0.2.3"}})
	srv := httptest.NewServer(httpserver.Handler(httpserver.Sources{State: readyState{snap}}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	var out strings.Builder
	if err := run([]string{"status", "--addr", addr}, nil, &out); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{"lbdns ready, generation 7, 2 hostnames", "HOSTNAME", "app.example.com", "192.0.2.2", "other.example.com"} {
		if !strings.Contains(text, want) {
			t.Errorf("lbdns status lacks %q:\n%s", want, text)
		}
	}
	if rows := strings.Count(text, "example.com "); rows != 3 {
		t.Errorf("%d target rows, want 3:\n%s", rows, text)
	}

	out.Reset()
	if err := run([]string{"status", "--addr", addr, "--hostname", "other.example.com"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "app.example.com") || !strings.Contains(out.String(), "192.0.2.3") {
		t.Errorf("--hostname other.example.com:\n%s", out.String())
	}

	// Nothing listening: an error that names the address.
	srv.Close()
	if err := run([]string{"status", "--addr", addr}, nil, &out); err == nil || !strings.Contains(err.Error(), addr) {
		t.Errorf("lbdns status of a stopped lbdns: %v", err)
	}
	if err := run([]string{"status", "--pod", "no-slash"}, nil, &out); err == nil || !strings.Contains(err.Error(), "namespace/pod") {
		t.Errorf("--pod without a namespace: %v", err)
	}
}
