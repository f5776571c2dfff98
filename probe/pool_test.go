package probe

import (
	"context"
	"testing"
	"time"
)

// A freed slot goes to a changing target first, then to the group holding
// the fewest slots, then to the most recent change, then to the first come.
func TestPoolOrder(t *testing.T) {
	p := newPool(2)
	ctx := context.Background()
	for range 2 { // mallory holds both slots; it keeps one all along
		if err := p.acquire(ctx, claim{group: "mallory"}); err != nil {
			t.Fatal(err)
		}
	}
	old, recent := time.Unix(1000, 0), time.Unix(2000, 0)
	claims := map[string]claim{
		"mallory-old":    {group: "mallory", since: old},
		"mallory-recent": {group: "mallory", since: recent},
		"team-a-old":     {group: "team-a", since: old},
		"mallory-rising": {group: "mallory", since: old, changing: true},
	}
	got := make(chan string, len(claims))
	for i, name := range []string{"mallory-old", "mallory-recent", "team-a-old", "mallory-rising"} { // arrival order
		go func() {
			if err := p.acquire(ctx, claims[name]); err == nil {
				got <- name
			}
		}()
		waitWaiting(t, p, i+1)
	}
	// Each release hands the slot on; the receiver then releases it.
	want := []string{"mallory-rising", "team-a-old", "mallory-recent", "mallory-old"}
	p.release("mallory")
	for _, w := range want {
		name := <-got
		if name != w {
			t.Fatalf("slot went to %s, want %s", name, w)
		}
		p.release(claims[name].group)
	}
}

func waitWaiting(t *testing.T, p *pool, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p.mu.Lock()
		k := len(p.waiting)
		p.mu.Unlock()
		if k >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d waiting, want %d", k, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// A waiter whose context ends leaves the queue; a slot granted as it gave
// up is handed on, not lost.
func TestPoolCancel(t *testing.T) {
	p := newPool(1)
	_ = p.acquire(context.Background(), claim{group: "a"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.acquire(ctx, claim{group: "b"}) }()
	waitWaiting(t, p, 1)
	cancel()
	if err := <-done; err == nil {
		t.Fatal("a cancelled waiter got a slot")
	}
	p.release("a")
	if err := p.acquire(context.Background(), claim{group: "c"}); err != nil {
		t.Fatal(err)
	}
	if p.free != 0 || len(p.waiting) != 0 {
		t.Fatalf("free %d waiting %d", p.free, len(p.waiting))
	}
}

func TestDownInterval(t *testing.T) {
	for _, tc := range []struct {
		base, downFor, want time.Duration
	}{
		{2 * time.Second, 10 * time.Second, 2 * time.Second},
		{2 * time.Second, 61 * time.Second, 4 * time.Second},
		{2 * time.Second, 3 * time.Minute, 16 * time.Second},
		{2 * time.Second, time.Hour, 30 * time.Second},
		{time.Minute, time.Hour, time.Minute}, // a down interval above the cap stays
	} {
		if got := downInterval(tc.base, tc.downFor); got != tc.want {
			t.Errorf("downInterval(%s, %s) = %s, want %s", tc.base, tc.downFor, got, tc.want)
		}
	}
}

// Up targets' probes are jittered on their grid; down targets' are not, so
// two probes of a dead target are never further apart than the down
// interval and a returning one is found within it.
func TestDownTargetsProbedWithoutJitter(t *testing.T) {
	s := NewScheduler[string](Options{Interval: 2 * time.Second, Timeout: time.Second, Rise: 1, Fall: 1, Jitter: 0.5}, nil)
	e := &entry{phase: 12345}
	start := time.Unix(1_800_000_000, 0)
	down := Status{State: Down, LastTransition: start}
	up := Status{State: Up, LastTransition: start}
	const period = int64(2 * time.Second)
	offGrid := 0
	for i := range 200 {
		now := start.Add(time.Duration(i) * 37 * time.Millisecond)
		if at := now.Add(s.delay(e, down, now)).UnixNano(); at%period != int64(e.phase)%period {
			t.Fatalf("a down target's next probe at %d, off its grid point %d of every %s", at%period, int64(e.phase)%period, time.Duration(period))
		}
		if at := now.Add(s.delay(e, up, now)).UnixNano(); at%period != int64(e.phase)%period {
			offGrid++
		}
	}
	if offGrid < 100 {
		t.Fatalf("only %d of 200 up probes moved by the jitter", offGrid)
	}
}
