package apiwatch

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
)

// lister counts the lists that reach it.
type lister struct{ lists atomic.Int32 }

func (l *lister) List(metav1.ListOptions) (runtime.Object, error) {
	l.lists.Add(1)
	return &corev1.ServiceList{}, nil
}

func (l *lister) Watch(metav1.ListOptions) (watch.Interface, error) { return watch.NewFake(), nil }

func TestConnectionHoldsListsWhileLostAndResumesAtOnce(t *testing.T) {
	var up atomic.Bool
	ping := func(context.Context) error {
		if up.Load() {
			return nil
		}
		return errors.New("connection refused")
	}
	c := New(ping, nil)
	c.poll = 10 * time.Millisecond
	inner := &lister{}
	lw := c.Wrap("services", inner).(cache.ListerWatcherWithContext)
	r := cache.NewReflector(c.Wrap("services", inner), &corev1.Service{}, cache.NewStore(cache.MetaNamespaceKeyFunc), 0)

	// A watch failed and the API server does not answer: lost.
	c.WatchError(context.Background(), r, errors.New("watch ended: EOF"))
	if st := c.Status(); st.Connected || st.LastError != "connection refused" {
		t.Fatalf("status after a failed ping: %+v", st)
	}
	listed := make(chan error, 1)
	go func() { _, err := lw.ListWithContext(context.Background(), metav1.ListOptions{}); listed <- err }()
	time.Sleep(100 * time.Millisecond)
	if n := inner.lists.Load(); n != 0 {
		t.Fatalf("%d lists reached an unreachable API server", n)
	}
	if age := c.ViewAge(time.Now()); age < 100*time.Millisecond {
		t.Errorf("view age %s while lost for 100ms", age)
	}

	up.Store(true)
	back := time.Now()
	select {
	case err := <-listed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the list still waits after the API server answered")
	}
	t.Logf("list resumed %s after the API server answered", time.Since(back).Round(time.Millisecond))
	if st := c.Status(); !st.Connected || c.ViewAge(time.Now()) != 0 {
		t.Errorf("status after the return: %+v", st)
	}

	// A watch error while the API server answers (say, an expired resource
	// version) is not a loss.
	c.WatchError(context.Background(), r, errors.New("too old resource version"))
	if !c.Status().Connected {
		t.Error("an answered ping counted as a loss")
	}
}
