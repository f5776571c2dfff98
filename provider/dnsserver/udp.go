package dnsserver

import (
	"context"
	"errors"
	"net"
	"runtime"
	"syscall"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
)

// udpBatch is how many datagrams one system call reads or writes.
const udpBatch = 64

// readBufferSize holds any sensible query (a question and an OPT record
// are a few hundred bytes); a longer datagram is cut short and answered
// FORMERR. 64 KiB per buffer, as a message could be, made 8 MiB of buffers.
const readBufferSize = 4096

// serveUDP answers the queries arriving on pc with one reader per core, each
// in batches: one recvmmsg reads up to udpBatch queries, each is answered in
// turn (by the fast path, or by ServeDNS, so that rate limiting, truncation
// and metrics are the ones TCP and the tests see), and one sendmmsg writes
// the answers. Per packet, the system calls were most of the server's time;
// a goroutine per query was most of the rest. When pc reuses its port
// (ListenUDP), each reader has a socket of its own.
func (s *Server) serveUDP(ctx context.Context, pc *net.UDPConn) error {
	readers := runtime.GOMAXPROCS(0)
	socks := s.udpSockets(pc, readers)
	errc := make(chan error, readers)
	for i := range readers {
		go func() { errc <- s.serveUDPReader(ctx, socks[i%len(socks)]) }()
	}
	var first error
	for range readers {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
		for _, c := range socks { // one reader ends: all end
			_ = c.Close()
		}
	}
	return first
}

// serveUDPReader is one reader of serveUDP.
func (s *Server) serveUDPReader(ctx context.Context, pc *net.UDPConn) error {
	// Its batch calls serve IPv6 sockets too: an IPv4 client of a dual-stack
	// socket (":5353") is written to as an IPv4 address, which Linux accepts
	// there (TestServeDualStack).
	conn := ipv4.NewPacketConn(pc)
	in := make([]ipv4.Message, udpBatch)
	for i := range in {
		in[i].Buffers = [][]byte{make([]byte, readBufferSize)}
	}
	out := make([]ipv4.Message, 0, udpBatch)
	answers := make([][]byte, udpBatch) // the fast path's answers, reused
	for i := range answers {
		answers[i] = make([]byte, 0, maxUDPSize)
	}
	w := &batchWriter{local: pc.LocalAddr()}

	for ctx.Err() == nil {
		n, err := conn.ReadBatch(in, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		out = out[:0]
		for i, m := range in[:n] {
			answer := s.answerDatagram
			if m.Flags&syscall.MSG_TRUNC != 0 { // longer than any query: cut short
				answer = formErr
			}
			if b := answer(w, m.Buffers[0][:m.N], m.Addr, answers[i]); b != nil {
				out = append(out, ipv4.Message{Buffers: [][]byte{b}, Addr: m.Addr})
			}
		}
		for len(out) > 0 {
			sent, err := conn.WriteBatch(out, 0)
			if err != nil {
				s.opts.Logger.Debug("DNS write failed", "err", err)
				break
			}
			out = out[sent:]
		}
	}
	return nil
}

// answerDatagram returns the packed answer to one datagram, or nil when it
// gets none: not a query (a response, or too short to be a message: replying
// could loop between two servers), or dropped by rate limiting. The common
// query is answered by the fast path into buf.
func (s *Server) answerDatagram(w *batchWriter, raw []byte, from net.Addr, buf []byte) []byte {
	if b, ok := s.fastAnswer(raw, from, buf); ok {
		return b
	}
	req := new(dns.Msg)
	if err := req.Unpack(raw); err != nil {
		return formErr(w, raw, from, buf)
	}
	if req.Response {
		return nil
	}
	w.remote, w.packed = from, nil
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
// servers); its arguments are answerDatagram's.
func formErr(_ *batchWriter, raw []byte, _ net.Addr, _ []byte) []byte {
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
