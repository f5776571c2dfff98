package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	"k8s.io/klog/v2"

	"github.com/lbdns/lbdns/config"
)

// client-go's and external-dns's log lines come out in lbdns's JSON, each
// naming its library, at lbdns's level.
func TestLibraryLogsAreOneFormat(t *testing.T) {
	var out strings.Builder
	setupLogs(config.Log{Level: "info", Format: "json"}, &out)
	defer klog.ClearLogger()
	defer logrus.StandardLogger().ReplaceHooks(logrus.LevelHooks{})
	klog.InfoS("Caches populated", "type", "*v1.Service")
	klog.ErrorS(nil, "Failed to watch", "reflector", "k8s.io/client-go")
	klog.V(4).Info("a detail at klog's level 4")
	logrus.WithField("zone", "example.com").Info("Adding RR")
	logrus.Debug("a debug line below lbdns's level")
	klog.Flush()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), out.String())
	}
	want := []struct{ logger, level, msg string }{
		{"client-go", "INFO", "Caches populated"},
		{"client-go", "ERROR", "Failed to watch"},
		{"external-dns", "INFO", "Adding RR"},
	}
	for i, line := range lines {
		var got map[string]any
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		if got["logger"] != want[i].logger || got["level"] != want[i].level || got["msg"] != want[i].msg {
			t.Errorf("line %d = %v, want %+v", i, got, want[i])
		}
	}
}
