package main

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/lbdns/lbdns/config"
)

// legacyOwnerID was the default owner ID before it became unique per
// installation: records it owns are adopted by a derived ID (external-dns's
// --migrate-from-txt-owner), so an upgrade keeps managing its records.
const legacyOwnerID = "lbdns"

// ownerID returns the TXT owner ID of the standalone updater: LBDNS_TXT_OWNER_ID,
// or one unique to this installation, made of the cluster's identity (the
// UID of its kube-system namespace, which lives as long as the cluster) and,
// when it is not the default, the Lease's name (the Helm chart names it after
// the release). Two clusters, or two releases, writing one zone with the
// default would otherwise each delete the other's records on every sync.
// derived says whether it was made here.
func ownerID(ctx context.Context, cfg config.Config, client kubernetes.Interface) (id string, derived bool, err error) {
	if cfg.Standalone.TXTOwnerID != "" {
		return cfg.Standalone.TXTOwnerID, false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ns, err := client.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{})
	if err != nil {
		return "", false, fmt.Errorf("LBDNS_TXT_OWNER_ID is empty, and the kube-system namespace, whose UID would make a unique one, cannot be read "+
			"(RBAC: get namespaces kube-system): %w; set LBDNS_TXT_OWNER_ID", err)
	}
	return derivedOwnerID(string(ns.UID), cfg.LeaderElection.Name), true, nil
}

// settleOwnerID sets cfg's TXT owner ID when the standalone updater runs,
// and returns the owner ID whose records it adopts ("": none).
func settleOwnerID(ctx context.Context, cfg *config.Config, client kubernetes.Interface) (migrateFrom string, err error) {
	if cfg.Standalone.Provider == "" {
		return "", nil
	}
	id, derived, err := ownerID(ctx, *cfg, client)
	if err != nil {
		return "", err
	}
	if cfg.Standalone.TXTOwnerID = id; derived {
		return legacyOwnerID, nil
	}
	return "", nil
}

func derivedOwnerID(clusterUID, leaseName string) string {
	id := "lbdns-" + clusterUID[:min(8, len(clusterUID))]
	if leaseName != "" && leaseName != "lbdns" {
		id += "-" + leaseName
	}
	return id
}
