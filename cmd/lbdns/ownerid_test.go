package main

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/lbdns/lbdns/config"
)

func TestOwnerID(t *testing.T) {
	ks := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system", UID: "0f3c9a52-1b2c-4d5e-8f90-123456789abc"}}
	client := fake.NewClientset(ks)
	for _, tc := range []struct {
		cfg     config.Config
		want    string
		derived bool
	}{
		{config.Config{LeaderElection: config.LeaderElection{Name: "lbdns"}}, "lbdns-0f3c9a52", true},
		{config.Config{LeaderElection: config.LeaderElection{Name: "prod"}}, "lbdns-0f3c9a52-prod", true},
		{config.Config{Standalone: config.Standalone{TXTOwnerID: "mine"}, LeaderElection: config.LeaderElection{Name: "prod"}}, "mine", false},
	} {
		got, derived, err := ownerID(context.Background(), tc.cfg, client)
		if err != nil || got != tc.want || derived != tc.derived {
			t.Errorf("ownerID(%+v) = %q %v %v, want %q %v", tc.cfg.Standalone.TXTOwnerID, got, derived, err, tc.want, tc.derived)
		}
	}
	_, _, err := ownerID(context.Background(), config.Config{}, fake.NewClientset())
	if err == nil || !strings.Contains(err.Error(), "set LBDNS_TXT_OWNER_ID") {
		t.Fatalf("without kube-system: %v", err)
	}
}
