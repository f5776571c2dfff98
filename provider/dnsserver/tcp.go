package dnsserver

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/miekg/dns"
)

// tcpReader reads DNS messages from TCP connections without trusting the
// length prefix: miekg/dns allocates the whole announced length (up to
// 64 KB) before a byte of the message arrived, so thousands of connections
// that send a 2-byte prefix and stall would hold hundreds of megabytes. This
// reader grows the buffer only as bytes arrive, and bounds the whole message
// by one deadline.
type tcpReader struct {
	dns.Reader
}

// tcpChunk is how much of a message is read at a time: most queries fit.
const tcpChunk = 512

// ReadTCP implements dns.Reader. timeout is the server's read timeout for
// the first message and its idle timeout for the next (RFC 7766 6.2.3): the
// time a client may take to send a whole message.
func (r tcpReader) ReadTCP(conn net.Conn, timeout time.Duration) ([]byte, error) {
	if err := conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	var prefix [2]byte
	if _, err := io.ReadFull(conn, prefix[:]); err != nil {
		return nil, err
	}
	length := int64(binary.BigEndian.Uint16(prefix[:]))
	if length < 12 { // shorter than a DNS header: not DNS
		return nil, fmt.Errorf("TCP message of %d bytes", length)
	}
	var buf bytes.Buffer
	buf.Grow(int(min(length, tcpChunk)))
	if _, err := io.CopyN(&buf, conn, length); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decorateReader makes the server read TCP through tcpReader.
func decorateReader(r dns.Reader) dns.Reader { return tcpReader{r} }
