package probe

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// BenchmarkProbeTCP measures tcp probes per second against a loopback
// listener, from as many goroutines as GOMAXPROCS.
func BenchmarkProbeTCP(b *testing.B) {
	ln, ip, port := listen(b)
	acceptForever(ln)
	c := Check{Kind: TCP, Port: port}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			if err := probeTCP(ctx, ip, c); err != nil {
				b.Error(err)
			}
			cancel()
		}
	})
}

// BenchmarkProbeHTTP measures http probes (a new connection each) per second
// against a loopback HTTP server.
func BenchmarkProbeHTTP(b *testing.B) {
	ln, ip, port := listen(b)
	srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	c := Check{Kind: HTTP, Port: port, Path: "/"}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			if err := probeHTTP(ctx, ip, c); err != nil {
				b.Error(err)
			}
			cancel()
		}
	})
}
