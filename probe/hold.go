package probe

import (
	"log/slog"
	"net"
	"sync"
	"time"
)

// Held connections: a tcp check that passed keeps its connection open until
// the next run of the same check passes. A process that dies closes it (the
// kernel sends FIN or RST for a dead process's sockets), and so does a pod
// that goes away: the targets that use the check are then probed at once
// instead of at their next interval. Such failures are withdrawn in
// milliseconds; the interval still bounds those that send nothing (a node
// that lost power).
//
// Two kinds of backend would make holding cost without telling anything,
// and are not held for holdOff: one that closes idle connections itself
// (after idleClosesToStop closes in a row, each followed by a passing
// probe), and one that speaks first (a banner), whose data would have to be
// read.
const (
	idleClosesToStop = 3
	holdOff          = 10 * time.Minute
)

// holds keeps at most limit connections, one per run key in use. A nil
// *holds holds nothing.
type holds struct {
	mu      sync.Mutex
	limit   int
	held    int
	keys    map[runKey]*holdKey
	metrics *Metrics
	log     *slog.Logger
	readers sync.WaitGroup
}

// holdKey is one check's holding state, alive while a target uses it.
type holdKey struct {
	users      int
	cur        *heldConn // the last connection kept, until replaced or failed
	peerClosed bool      // the other end closed cur
	idleCloses int       // peer closes in a row followed by a passing probe
	offUntil   time.Time // not held before then
}

// heldConn is one held connection, as the targets waiting on it see it.
type heldConn struct {
	conn     net.Conn
	closed   bool          // by either end; guarded by holds.mu
	gone     chan struct{} // closed when the other end closed it
	replaced chan struct{} // closed when it stopped being the check's connection for any other reason
}

func newHolds(limit int, m *Metrics, log *slog.Logger) *holds {
	if limit <= 0 {
		return nil
	}
	return &holds{limit: limit, keys: map[runKey]*holdKey{}, metrics: m, log: log}
}

// use registers a target that uses key; release it when the target goes.
func (h *holds) use(key runKey) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	hk := h.keys[key]
	if hk == nil {
		hk = &holdKey{}
		h.keys[key] = hk
	}
	hk.users++
}

func (h *holds) release(key runKey) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	hk := h.keys[key]
	if hk == nil {
		return
	}
	if hk.users--; hk.users <= 0 {
		h.dropLocked(hk)
		delete(h.keys, key)
	}
}

// current returns the connection held for key, or nil.
func (h *holds) current(key runKey) *heldConn {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if hk := h.keys[key]; hk != nil {
		return hk.cur
	}
	return nil
}

// keep takes the connection of a run of key that passed, in place of the
// one held, or closes it when key is not to be held.
func (h *holds) keep(key runKey, conn net.Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	hk := h.keys[key]
	if hk == nil { // its targets went meanwhile
		conn.Close()
		return
	}
	now := time.Now()
	if hk.peerClosed { // and the backend still answers: it closes idle connections
		hk.peerClosed = false
		if hk.idleCloses++; hk.idleCloses >= idleClosesToStop {
			hk.idleCloses, hk.offUntil = 0, now.Add(holdOff)
		}
	}
	if now.Before(hk.offUntil) || hk.cur == nil && h.held >= h.limit {
		conn.Close()
		h.dropLocked(hk)
		return
	}
	h.dropLocked(hk)
	hc := &heldConn{conn: conn, gone: make(chan struct{}), replaced: make(chan struct{})}
	hk.cur = hc
	h.held++
	h.metrics.setHeld(h.held)
	h.readers.Add(1)
	go h.watch(key, hk, hc)
}

// failed records a run of key that failed: a close that came before it was
// a failure, not an idle close.
func (h *holds) failed(key runKey) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if hk := h.keys[key]; hk != nil {
		hk.idleCloses = 0
		if hk.peerClosed {
			hk.peerClosed, hk.cur = false, nil
		}
	}
}

// dropLocked lets go of hk's connection: closes it if it is open and tells
// the targets waiting on it to look again.
func (h *holds) dropLocked(hk *holdKey) {
	hc := hk.cur
	if hc == nil {
		return
	}
	hk.cur = nil
	if !hc.closed {
		h.closeLocked(hc)
		close(hc.replaced)
	}
}

// closeLocked closes an open held connection and counts it out.
func (h *holds) closeLocked(hc *heldConn) {
	hc.closed = true
	hc.conn.Close()
	h.held--
	h.metrics.setHeld(h.held)
}

// watch waits for the other end of hc to close it or to send something.
func (h *holds) watch(key runKey, hk *holdKey, hc *heldConn) {
	defer h.readers.Done()
	var b [1]byte
	n, _ := hc.conn.Read(b[:])
	h.mu.Lock()
	defer h.mu.Unlock()
	if hc.closed { // closed by this side
		return
	}
	if n > 0 { // it speaks first
		hk.offUntil = time.Now().Add(holdOff)
		h.dropLocked(hk)
		h.log.Debug("held probe connection: the backend speaks first, not held", "ip", key.ip, "check", key.check, "for", holdOff)
		return
	}
	h.closeLocked(hc)
	h.metrics.peerClosed()
	hk.peerClosed = true
	close(hc.gone)
	h.log.Debug("held probe connection closed by the backend: probing now", "ip", key.ip, "check", key.check)
}

// wait blocks until every reader has stopped; call it after the last
// release.
func (h *holds) wait() {
	if h != nil {
		h.readers.Wait()
	}
}

// goneC and replacedC are nil (never ready) for no connection.
func (hc *heldConn) goneC() <-chan struct{} {
	if hc == nil {
		return nil
	}
	return hc.gone
}

func (hc *heldConn) replacedC() <-chan struct{} {
	if hc == nil {
		return nil
	}
	return hc.replaced
}
