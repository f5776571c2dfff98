package main

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

func TestHeldLease(t *testing.T) {
	client := fake.NewClientset()
	lock := func(id string) *heldLease {
		return &heldLease{valid: 200 * time.Millisecond, Interface: &resourcelock.LeaseLock{
			LeaseMeta: metav1.ObjectMeta{Name: "lbdns", Namespace: "lbdns"}, Client: client.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: id}}}
	}
	me := lock("me")
	ctx := context.Background()
	if err := me.Held(); err == nil {
		t.Fatal("held before any renewal")
	}
	rec := func(holder string) resourcelock.LeaderElectionRecord {
		now := metav1.Now()
		return resourcelock.LeaderElectionRecord{HolderIdentity: holder, LeaseDurationSeconds: 1, AcquireTime: now, RenewTime: now}
	}
	if err := me.Create(ctx, rec("me")); err != nil {
		t.Fatal(err)
	}
	if err := me.Held(); err != nil {
		t.Fatalf("just created: %v", err)
	}
	time.Sleep(250 * time.Millisecond) // a pause longer than the validity, with no renewal
	if err := me.Held(); err == nil || !strings.Contains(err.Error(), "last renewed") {
		t.Fatalf("after the validity: %v", err)
	}
	if err := me.Update(ctx, rec("me")); err != nil {
		t.Fatal(err)
	}
	if err := me.Held(); err != nil {
		t.Fatalf("renewed: %v", err)
	}
	if err := me.Update(ctx, rec("")); err != nil { // released
		t.Fatal(err)
	}
	if err := me.Held(); err == nil {
		t.Fatal("held after release")
	}
}
