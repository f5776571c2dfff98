// Package connector serves the published sets to a stock external-dns run
// with --source=connector: each connection gets one gob-encoded
// []*endpoint.Endpoint and is closed.
//
// external-dns v0.22 exits on any connector error (refused dial, EOF before
// data), so before lbdns is ready a connection is held open and answered the
// moment lbdns becomes ready; it is never closed early.
package connector

import (
	"context"
	"encoding/gob"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/lbdns/lbdns/metrics"
	"github.com/lbdns/lbdns/provider"
	"github.com/prometheus/client_golang/prometheus"
)

// Output is the output label in metrics.
const Output = "connector"

// Defaults for Options.
const (
	DefaultMaxConns     = 32
	DefaultWriteTimeout = 10 * time.Second
)

// Options configure a Server.
type Options struct {
	// MaxConns bounds the connections handled at once; further ones wait in
	// the listen backlog rather than being refused.
	MaxConns     int
	WriteTimeout time.Duration
	Logger       *slog.Logger
	// Observer records each answer; nil records none.
	Observer *provider.SyncObserver
	Metrics  *Metrics // nil: none
}

// Server is the connector server.
type Server struct {
	snaps    provider.Snapshots
	ready    provider.Readiness
	opts     Options
	observer *provider.SyncObserver
}

// New returns a server; it does nothing until Serve.
func New(snaps provider.Snapshots, ready provider.Readiness, opts Options) *Server {
	if opts.MaxConns <= 0 {
		opts.MaxConns = DefaultMaxConns
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Observer == nil {
		opts.Observer = &provider.SyncObserver{Output: Output}
	}
	return &Server{snaps: snaps, ready: ready, opts: opts, observer: opts.Observer}
}

// Serve accepts connections on ln until ctx is done, then closes ln and every
// held connection and returns nil.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	slots := make(chan struct{}, s.opts.MaxConns)
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		conn, err := ln.Accept()
		if err != nil {
			<-slots
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			s.handle(ctx, conn)
		}()
	}
}

func (s *Server) handle(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	select {
	case <-s.ready.Ready():
	case <-ctx.Done():
		s.count("closed_before_ready")
		return
	}
	snap := s.snaps.Snapshot()
	eps := provider.Endpoints(snap)
	_ = conn.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
	if err := gob.NewEncoder(conn).Encode(eps); err != nil {
		s.opts.Logger.Warn("connector write failed", "remote", conn.RemoteAddr().String(), "err", err)
		s.count("error")
		s.observer.Observe(snap, err)
		return
	}
	s.count("served")
	s.opts.Logger.Debug("connector served", "remote", conn.RemoteAddr().String(), "endpoints", len(eps), "generation", snap.Generation)
	// The connector's "sync" is external-dns taking the sets.
	s.observer.Observe(snap, nil)
}

func (s *Server) count(result string) {
	if m := s.opts.Metrics; m != nil {
		m.connections.WithLabelValues(result).Inc()
	}
}

// Metrics are the connector's.
type Metrics struct{ connections *prometheus.CounterVec }

// NewMetrics creates the connector's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	return &Metrics{connections: metrics.Registrar{Reg: reg}.CounterVec("lbdns_connector_connections_total",
		"Connector connections, by result (served, error, closed_before_ready).", "result")}
}
