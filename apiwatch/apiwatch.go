// Package apiwatch follows whether the Kubernetes API server answers, so
// that lbdns's informers resume the moment it is back and lbdns can say how
// old its view of the cluster is.
//
// After an outage, client-go's reflectors retry with a backoff that grows to
// 30 s (and jitters up to twice that): a Service created a second after the
// API server returned could wait a minute to be seen, while nothing said the
// view was old. Here a reflector whose connection broke waits in its next
// list or watch call until a cheap ping answers (every PollInterval), so it
// fails only once per outage and resumes within a poll of the return.
package apiwatch

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
)

// PollInterval is how often a lost API server is pinged.
const PollInterval = 500 * time.Millisecond

// Connection follows the API server.
type Connection struct {
	ping func(ctx context.Context) error
	poll time.Duration
	log  *slog.Logger

	mu      sync.Mutex
	lostAt  time.Time // zero while connected
	lastErr string
	back    chan struct{} // closed when the API server answers again
	// forbidden holds the API server's refusals of lbdns's lists and
	// watches (missing RBAC rules), each with the resource it was about.
	forbidden map[string]string
}

// Status is the connection's state, for /status and the metrics.
type Status struct {
	Connected bool
	// LostAt is when the view stopped following the cluster; LastError
	// says why.
	LostAt    time.Time
	LastError string
	// Forbidden lists the API server's refusals of lbdns's reads, in its
	// own words (which name the user, the verb and the resource).
	Forbidden []string
}

// RBACHint says what grants lbdns its reads.
const RBACHint = "lbdns needs list and watch on services, endpointslices (discovery.k8s.io) and nodes: apply manifests/base (ClusterRole and ClusterRoleBinding lbdns), or the Helm chart's RBAC"

// New returns a connection checked with ping (say, GET /readyz).
func New(ping func(ctx context.Context) error, log *slog.Logger) *Connection {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Connection{ping: ping, poll: PollInterval, log: log}
}

// Status returns the connection's state.
func (c *Connection) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := Status{Connected: c.lostAt.IsZero(), LostAt: c.lostAt, LastError: c.lastErr}
	for msg := range c.forbidden {
		st.Forbidden = append(st.Forbidden, msg)
	}
	slices.Sort(st.Forbidden)
	return st
}

// noteResult remembers whether the API server refused lbdns a read of
// resource, and logs each distinct refusal once, with what to apply.
func (c *Connection) noteResult(resource string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case err == nil:
		for msg, r := range c.forbidden {
			if r == resource {
				delete(c.forbidden, msg)
				c.log.Info("permission granted: reading again", "resource", resource)
			}
		}
	case apierrors.IsForbidden(err):
		msg := err.Error()
		if _, known := c.forbidden[msg]; !known {
			if c.forbidden == nil {
				c.forbidden = map[string]string{}
			}
			c.forbidden[msg] = resource
			c.log.Error("missing permission: lbdns cannot read the cluster", "resource", resource, "err", msg, "fix", RBACHint)
		}
	}
}

// ViewAge returns how long the informers have not followed the cluster: 0
// while connected.
func (c *Connection) ViewAge(now time.Time) time.Duration {
	st := c.Status()
	if st.Connected {
		return 0
	}
	return now.Sub(st.LostAt)
}

// WatchError is a SharedIndexInformer WatchErrorHandlerWithContext: when a
// reflector's list or watch failed and the API server does not answer a
// ping, the connection counts as lost.
func (c *Connection) WatchError(ctx context.Context, r *cache.Reflector, err error) {
	cache.DefaultWatchErrorHandler(ctx, r, err)
	if c.Status().Connected { // a wrapped call that failed has pinged already
		c.checkLost(ctx)
	}
}

// checkLost pings after a failed call, and marks the connection lost when
// the ping fails too. It reports whether it is lost.
func (c *Connection) checkLost(ctx context.Context) bool {
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := c.ping(pctx); err != nil {
		c.lost(err)
		return true
	}
	return false
}

func (c *Connection) lost(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastErr = err.Error()
	if !c.lostAt.IsZero() {
		return
	}
	c.lostAt = time.Now()
	c.back = make(chan struct{})
	c.log.Warn("API server unreachable: keeping the last view of the cluster; probes decide meanwhile", "err", err)
	go c.pollUntilBack(c.back)
}

// pollUntilBack pings until the API server answers, then closes back.
func (c *Connection) pollUntilBack(back chan struct{}) {
	t := time.NewTicker(c.poll)
	defer t.Stop()
	for range t.C {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.ping(ctx)
		cancel()
		if err == nil {
			c.mu.Lock()
			c.log.Info("API server answers again: resuming the watches", "lostFor", time.Since(c.lostAt).Round(time.Millisecond).String())
			c.lostAt, c.lastErr = time.Time{}, ""
			close(back)
			c.mu.Unlock()
			return
		}
	}
}

// waitUntilBack blocks while the connection is lost, until ctx is done.
func (c *Connection) waitUntilBack(ctx context.Context) error {
	c.mu.Lock()
	back := c.back
	lost := !c.lostAt.IsZero()
	c.mu.Unlock()
	if !lost {
		return nil
	}
	select {
	case <-back:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Wrap returns lw, which reads resource, whose calls wait while the API
// server is lost: a call that
// fails while the API server does not answer waits for its return and is
// made again, so the reflector's backoff, which only grows with failures,
// stays short. It is a ListerWatcher with and without contexts; reflectors
// use the former.
func (c *Connection) Wrap(resource string, lw cache.ListerWatcher) cache.ListerWatcher {
	return waiting{conn: c, resource: resource, lw: cache.ToListerWatcherWithContext(lw)}
}

type waiting struct {
	conn     *Connection
	resource string
	lw       cache.ListerWatcherWithContext
}

func (w waiting) ListWithContext(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
	v, err := retryWhenBack(ctx, w.conn, func() (runtime.Object, error) { return w.lw.ListWithContext(ctx, opts) })
	w.conn.noteResult(w.resource, err)
	return v, err
}

func (w waiting) WatchWithContext(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	v, err := retryWhenBack(ctx, w.conn, func() (watch.Interface, error) { return w.lw.WatchWithContext(ctx, opts) })
	w.conn.noteResult(w.resource, err)
	return v, err
}

// retryWhenBack makes call once the API server answers; if it fails because
// the API server went away, it waits for its return and makes it again.
func retryWhenBack[T any](ctx context.Context, c *Connection, call func() (T, error)) (T, error) {
	var zero T
	if err := c.waitUntilBack(ctx); err != nil {
		return zero, err
	}
	v, err := call()
	if err == nil || ctx.Err() != nil || !c.checkLost(ctx) {
		return v, err
	}
	if err := c.waitUntilBack(ctx); err != nil {
		return zero, err
	}
	return call()
}

func (w waiting) List(opts metav1.ListOptions) (runtime.Object, error) {
	return w.ListWithContext(context.Background(), opts)
}

func (w waiting) Watch(opts metav1.ListOptions) (watch.Interface, error) {
	return w.WatchWithContext(context.Background(), opts)
}
