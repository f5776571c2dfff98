package standalone

import (
	"context"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/lbdns/lbdns/internal/testnet"
	"sigs.k8s.io/external-dns/endpoint"
	"sigs.k8s.io/external-dns/plan"
)

// TestRFC2136SetupSendsUpdates checks the provider newRegistry builds against a
// real DNS server socket: a TSIG-signed UPDATE for the zone arrives, and
// ApplyChanges returns (a zero batch size once made it loop forever).
func TestRFC2136SetupSendsUpdates(t *testing.T) {
	const key, secret = "lbdns-test.", "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI="
	// The provider sends updates over TCP: serve the same port on both.
	pc, ln := testnet.UDPAndTCP(t, "127.0.0.1")
	var updates atomic.Int32
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		if r.Opcode == dns.OpcodeUpdate && w.TsigStatus() == nil && r.IsTsig() != nil {
			updates.Add(1)
		} else {
			m.Rcode = dns.RcodeRefused
		}
		if r.IsTsig() != nil {
			m.SetTsig(key, dns.HmacSHA256, 300, time.Now().Unix())
		}
		_ = w.WriteMsg(m)
	})
	tsig := map[string]string{key: secret}
	acceptAll := func(dns.Header) dns.MsgAcceptAction { return dns.MsgAccept } // the default refuses UPDATE
	for _, srv := range []*dns.Server{
		{PacketConn: pc, TsigSecret: tsig, Handler: handler, MsgAcceptFunc: acceptAll},
		{Listener: ln, TsigSecret: tsig, Handler: handler, MsgAcceptFunc: acceptAll},
	} {
		go func() { _ = srv.ActivateAndServe() }()
		defer func() { _ = srv.Shutdown() }()
	}

	port := pc.LocalAddr().(*net.UDPAddr).Port
	reg, err := newRegistry(context.Background(), Options{
		Provider: ProviderRFC2136, OwnerID: "lbdns", Policy: "sync",
		RFC2136: RFC2136Options{Host: "127.0.0.1", Port: port, Zones: []string{"example.com"},
			TSIGKeyName: key, TSIGSecret: secret, TSIGSecretAlg: "hmac-sha256"},
	}, endpoint.NewDomainFilter([]string{"example.com"}))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- reg.ApplyChanges(context.Background(), &plan.Changes{Create: []*endpoint.Endpoint{
			endpoint.NewEndpointWithTTL("app.example.com", endpoint.RecordTypeA, 30, "192.0.2.1"),
		}})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ApplyChanges: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ApplyChanges did not return within 10s")
	}
	if n := updates.Load(); n < 1 {
		t.Fatalf("%d TSIG-signed UPDATE messages reached the server on port %s", n, strconv.Itoa(port))
	}
}
