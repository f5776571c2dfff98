package standalone

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// axfrServer serves zone transfers of example.com over real TCP with one of
// several behaviours, the way a DNS server can answer or fail them.
func axfrServer(t *testing.T, behaviour string) RFC2136Options {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	soa, _ := dns.NewRR("example.com. 60 IN SOA ns.example.com. admin.example.com. 1 60 60 3600 60")
	a1, _ := dns.NewRR("app.example.com. 30 IN A 192.0.2.1")
	a2, _ := dns.NewRR("app.example.com. 30 IN A 192.0.2.2")
	txt, _ := dns.NewRR(`a-app.example.com. 30 IN TXT "heritage=external-dns,external-dns/owner=lbdns"`)
	srv := &dns.Server{Listener: ln, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		switch behaviour {
		case "refused":
			m.Rcode = dns.RcodeRefused
		case "whole":
			m.Answer = []dns.RR{soa, a1, a2, txt, soa}
		case "cut":
			m.Answer = []dns.RR{soa, a1} // no closing SOA, then the connection closes
		case "no-soa":
			m.Answer = []dns.RR{a1, a2}
		}
		_ = w.WriteMsg(m)
		if behaviour == "cut" || behaviour == "no-soa" {
			_ = w.Close()
		}
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	port, _ := strconv.Atoi(strings.TrimPrefix(ln.Addr().String(), "127.0.0.1:"))
	return RFC2136Options{Host: "127.0.0.1", Port: port, Zones: []string{"example.com"}, Insecure: true}
}

func TestCheckedRFC2136FailsUnlessTheZoneArrivesWhole(t *testing.T) {
	for behaviour, wantErr := range map[string]string{
		"refused": "refused the transfer",
		"cut":     "EOF",
		"no-soa":  "SOA",
		"whole":   "",
	} {
		t.Run(behaviour, func(t *testing.T) {
			p, err := newCheckedRFC2136(nil, axfrServer(t, behaviour))
			if err != nil {
				t.Fatal(err)
			}
			eps, err := p.Records(context.Background())
			if wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), wantErr) || eps != nil {
					t.Fatalf("Records() = %v, %v; want no records and an error with %q", eps, err, wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ep := range eps {
				got = append(got, ep.DNSName+" "+ep.RecordType+" "+strings.Join(ep.Targets, ","))
			}
			want := []string{"app.example.com A 192.0.2.1,192.0.2.2", "a-app.example.com TXT heritage=external-dns,external-dns/owner=lbdns"}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Fatalf("records:\n got %q\nwant %q", got, want)
			}
		})
	}
}
