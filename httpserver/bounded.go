package httpserver

import (
	"net"
	"net/http"
	"time"

	"github.com/lbdns/lbdns/connlimit"
)

// Limits bound an HTTP server of lbdns (its own, and the node agent's):
// connections in all and per client IP, and the size of request headers
// (larger ones get 431).
type Limits struct {
	MaxConns, MaxConnsPerClient int
}

// Bounds every lbdns HTTP server keeps. A scrape, a probe or a browser
// sends a few hundred bytes of headers and is answered in well under a
// second; a client that sends nothing is closed after readHeaderTimeout,
// one idle between requests after idleTimeout.
const (
	MaxHeaderBytes    = 64 << 10
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 60 * time.Second // a 30 s CPU profile with LBDNS_PPROF
	idleTimeout       = 10 * time.Second
)

// Bounded returns a server of h with lbdns's timeouts and header bound, and
// ln bounded by l; refused (may be nil) hears of each connection closed at
// accept, with why.
func Bounded(h http.Handler, ln net.Listener, l Limits, refused func(reason string)) (*http.Server, *connlimit.Listener) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout, WriteTimeout: writeTimeout,
		IdleTimeout: idleTimeout, MaxHeaderBytes: MaxHeaderBytes}
	return srv, connlimit.Wrap(ln, connlimit.Options{Max: l.MaxConns, MaxPerNetwork: l.MaxConnsPerClient, Refused: refused})
}
