package probe

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// maxResponseHeaderBytes bounds a probe answer's headers: a health check
// answers with a few hundred bytes, and a backend that sends megabytes of
// headers (Go's default bound is 10 MB) is not healthy, it is an attack on
// lbdns's memory.
const maxResponseHeaderBytes = 64 << 10

// httpClient never reuses connections, so each probe really connects, and
// never follows redirects: a 3xx is an answer of the target itself.
var httpClient = newHTTPClient("")

// newHTTPClient returns a client whose TLS server name is serverName.
// LB IPs rarely carry certificates for themselves: https probes check that
// TLS and HTTP answer, not who signed the certificate.
func newHTTPClient(serverName string) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DisableKeepAlives:      true,
			DialContext:            probeDialer.DialContext,
			Proxy:                  nil,
			MaxResponseHeaderBytes: maxResponseHeaderBytes,
			TLSClientConfig:        &tls.Config{ServerName: serverName, InsecureSkipVerify: true}, //nolint:gosec // see above
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// probeHTTP passes on a 2xx or 3xx answer to GET. Node probes use it too:
// kube-proxy's healthz answers 503 when the node has no local endpoint or is
// being deleted.
func probeHTTP(ctx context.Context, ip netip.Addr, c Check) error {
	scheme := "http"
	if c.Kind == HTTPS {
		scheme = "https"
	}
	path := c.Path
	if path == "" {
		path = "/"
	}
	url := scheme + "://" + net.JoinHostPort(ip.String(), strconv.Itoa(c.Port)) + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "lbdns-probe")
	client := httpClient
	if c.Host != "" {
		req.Host = c.Host
		if c.Kind == HTTPS {
			client = newHTTPClient(c.Host)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		if strings.Contains(err.Error(), "server response headers exceeded") {
			return fmt.Errorf("the answer's headers exceed %d KiB: not a health check answer", maxResponseHeaderBytes>>10)
		}
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode < 200 || resp.StatusCode > 399 {
		return fmt.Errorf("HTTP status %d", resp.StatusCode)
	}
	return nil
}
