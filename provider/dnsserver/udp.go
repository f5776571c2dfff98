package dnsserver

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"runtime"

	"github.com/miekg/dns"
)

// batchSize is how many datagrams one system call reads or writes.
const batchSize = 64

// readBufferSize holds any sensible query (a question and an OPT record
// are a few hundred bytes); a longer datagram is cut short and answered
// FORMERR. 64 KiB per buffer, as a message could be, made 8 MiB of buffers.
const readBufferSize = 4096

// serveUDP answers the queries arriving on pc with one reader per core, each
// in batches: one recvmmsg reads up to batchSize queries, each is answered in
// turn (by the fast path, or by ServeDNS, so that rate limiting, truncation
// and metrics are the ones TCP and the tests see), and one sendmmsg writes
// the answers. Per packet, the system calls were most of the server's time;
// a goroutine per query was most of the rest. When pc reuses its port
// (ListenUDP), each reader has a socket of its own (openUDPSockets). It
// returns when ctx is done.
func (s *Server) serveUDP(ctx context.Context, pc *net.UDPConn) error {
	readers, release := reserveProcs()
	defer release()
	socks, err := openUDPSockets(pc, readers)
	if err != nil {
		return fmt.Errorf("UDP sockets: %w", err)
	}
	spread := "flow"
	if !s.opts.SpreadByFlow {
		spread = "cpu"
		if err := spreadByCPU(socks); err != nil { // the kernel's hash stays: slower, not wrong
			s.opts.Logger.Warn("DNS server: UDP queries spread by flow, not by CPU", "err", err)
			spread = "flow"
		}
	}
	s.opts.Logger.Info("DNS server: UDP readers", "sockets", len(socks), "spread", spread, "GOMAXPROCS", runtime.GOMAXPROCS(0))
	wake := context.AfterFunc(ctx, func() {
		for _, sock := range socks {
			sock.stop()
		}
	})
	defer wake()
	errc := make(chan error, len(socks))
	for _, sock := range socks {
		go func() {
			err := s.serveUDPReader(ctx, sock, pc.LocalAddr())
			sock.close() // before serveUDP returns: the port is free when Serve ends
			errc <- err
		}()
	}
	var first error
	for range socks {
		if err := <-errc; err != nil && first == nil {
			first = err
			for _, sock := range socks { // one reader fails: all end
				sock.stop()
			}
		}
	}
	return first
}

// serveUDPReader is one reader of serveUDP; local is the address its
// answers are from.
func (s *Server) serveUDPReader(ctx context.Context, sock *udpSocket, local net.Addr) error {
	batch := newUDPBatch(batchSize, readBufferSize)
	answers := make([][]byte, batchSize) // the fast path's answers, reused
	for i := range answers {
		answers[i] = make([]byte, 0, maxUDPSize)
	}
	w := &batchWriter{local: local}
	t := s.newTally()
	for {
		n, err := sock.read(batch)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		k := 0
		t.restart()
		for i := range n {
			raw, cut, from := batch.datagram(i)
			var b []byte
			if cut { // longer than any query
				b = formErr(raw)
			} else {
				b = s.answerDatagram(w, raw, from, answers[i], t)
			}
			if len(b) > 0 {
				batch.queue(k, i, b)
				k++
			}
		}
		t.flush(s.fast)
		if err := sock.write(batch, k); err != nil {
			s.opts.Logger.Debug("DNS write failed", "err", err)
		}
	}
}

// answerDatagram returns the packed answer to one datagram, or nil when it
// gets none: not a query (a response, or too short to be a message: replying
// could loop between two servers), or dropped by rate limiting. The common
// query is answered by the fast path into buf.
func (s *Server) answerDatagram(w *batchWriter, raw []byte, from netip.AddrPort, buf []byte, t *tally) []byte {
	if b, ok := s.fastAnswer(raw, from, buf, t); ok {
		return b
	}
	defer t.restart()
	req := new(dns.Msg)
	if err := req.Unpack(raw); err != nil {
		return formErr(raw)
	}
	if req.Response {
		return nil
	}
	w.remote, w.packed = net.UDPAddrFromAddrPort(from), nil
	w.tsig, w.tsigStatus, w.requestMAC = "", nil, ""
	if t := req.IsTsig(); t != nil { // a secondary's SOA query: verify, and sign the answer
		w.tsigStatus = dns.ErrSecret
		if k := s.opts.Transfer.TSIG; k != nil && dns.CanonicalName(t.Hdr.Name) == dns.CanonicalName(k.Name) {
			w.tsig, w.requestMAC = k.Secret, t.MAC
			w.tsigStatus = dns.TsigVerify(raw, k.Secret, "", false)
		}
	}
	s.ServeDNS(w, req)
	return w.packed
}

// formErr answers a datagram that cannot be read with FORMERR, if it has a
// header and is not a response (replying to those could loop between two
// servers).
func formErr(raw []byte) []byte {
	if len(raw) < 12 || raw[2]&0x80 != 0 {
		return nil
	}
	resp := new(dns.Msg)
	resp.Id = uint16(raw[0])<<8 | uint16(raw[1])
	resp.Response, resp.Rcode = true, dns.RcodeFormatError
	b, _ := resp.Pack()
	return b
}

// batchWriter is the dns.ResponseWriter of one datagram of a batch: it
// packs the answer for the batch to send.
type batchWriter struct {
	local, remote net.Addr
	packed        []byte
	// tsig is the secret of the datagram's valid TSIG key, with which an
	// answer that carries a TSIG record is signed.
	tsig, requestMAC string
	tsigStatus       error
}

func (w *batchWriter) LocalAddr() net.Addr  { return w.local }
func (w *batchWriter) RemoteAddr() net.Addr { return w.remote }
func (w *batchWriter) Network() string      { return "udp" }

func (w *batchWriter) WriteMsg(m *dns.Msg) error {
	if m.IsTsig() != nil && w.tsig != "" {
		b, _, err := dns.TsigGenerate(m, w.tsig, w.requestMAC, false)
		if err != nil {
			return err
		}
		w.packed = b
		return nil
	}
	b, err := m.Pack()
	if err != nil {
		return err
	}
	w.packed = b
	return nil
}

func (w *batchWriter) Write(b []byte) (int, error) {
	w.packed = append([]byte(nil), b...)
	return len(b), nil
}

func (w *batchWriter) Close() error        { return nil }
func (w *batchWriter) TsigStatus() error   { return w.tsigStatus }
func (w *batchWriter) TsigTimersOnly(bool) {}
func (w *batchWriter) Hijack()             {}
