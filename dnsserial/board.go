// Package dnsserial is where the replicas of lbdns agree on the serials of
// their embedded DNS's zones, so that a secondary may transfer from any of
// them: the replica that holds the Lease writes the serial it gave each new
// version of a zone's data (known by its digest) into a ConfigMap; every
// replica watches that ConfigMap and gives the same data the same serial.
package dnsserial

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Keep is how many announcements of a zone the ConfigMap holds, as many as
// the versions the embedded DNS keeps for IXFR.
const Keep = 64

// writeEvery spaces the leader's writes: announcements made meanwhile go
// out together.
const writeEvery = 250 * time.Millisecond

// Entry is one announcement: the serial given to the data of Digest.
type Entry struct {
	Serial uint32
	Digest string
}

// Board is one replica's view of the announcements, and the leader's way to
// make them. It implements dnsserver.SerialBoard.
type Board struct {
	client    kubernetes.Interface
	namespace string
	name      string
	// held returns nil while this replica surely holds the Lease: only then
	// does it announce and write.
	held func() error
	log  *slog.Logger

	mu      sync.Mutex
	seen    map[string][]Entry // by zone, oldest first: as the ConfigMap says
	pending map[string][]Entry // by zone: announced here, not written yet
	changed chan struct{}
	wake    chan struct{}
}

// New returns the board kept in ConfigMap namespace/name.
func New(client kubernetes.Interface, namespace, name string, held func() error, log *slog.Logger) *Board {
	return &Board{client: client, namespace: namespace, name: name, held: held, log: log,
		seen: map[string][]Entry{}, pending: map[string][]Entry{}, changed: make(chan struct{}), wake: make(chan struct{}, 1)}
}

// Agreed is the newest serial announced for the zone's data of digest.
func (b *Board) Agreed(zone, digest string) (uint32, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var best uint32
	for _, es := range [][]Entry{b.seen[zone], b.pending[zone]} {
		for _, e := range es {
			if e.Digest == digest && e.Serial > best {
				best = e.Serial
			}
		}
	}
	return best, best != 0
}

// DigestOf is the digest announced with serial.
func (b *Board) DigestOf(zone string, serial uint32) (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, es := range [][]Entry{b.pending[zone], b.seen[zone]} {
		for _, e := range es {
			if e.Serial == serial {
				return e.Digest, true
			}
		}
	}
	return "", false
}

// Announce gives the zone's new data of digest a serial of at least serial
// and above every one announced, while this replica holds the Lease.
func (b *Board) Announce(zone, digest string, serial uint32) (uint32, bool) {
	if b.held() != nil {
		return serial, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, es := range [][]Entry{b.seen[zone], b.pending[zone]} {
		for _, e := range es {
			serial = max(serial, e.Serial+1)
		}
	}
	b.pending[zone] = append(b.pending[zone], Entry{Serial: serial, Digest: digest})
	select {
	case b.wake <- struct{}{}:
	default:
	}
	return serial, true
}

// Changed is closed when the ConfigMap's announcements change, and when
// this replica took the Lease.
func (b *Board) Changed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.changed
}

// Run watches the ConfigMap and writes the announcements until ctx ends.
func (b *Board) Run(ctx context.Context) error {
	factory := informers.NewSharedInformerFactoryWithOptions(b.client, 0, informers.WithNamespace(b.namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "metadata.name=" + b.name }))
	inf := factory.Core().V1().ConfigMaps().Informer()
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { b.read(obj) },
		UpdateFunc: func(_, obj any) { b.read(obj) },
		DeleteFunc: func(any) { b.read(nil) },
	})
	if err != nil {
		return fmt.Errorf("watching ConfigMap %s/%s: %w", b.namespace, b.name, err)
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	b.writeLoop(ctx)
	return nil
}

// read takes the announcements of the ConfigMap (nil: gone).
func (b *Board) read(obj any) {
	seen := map[string][]Entry{}
	if cm, ok := obj.(*corev1.ConfigMap); ok {
		seen = Parse(cm.Data)
	}
	b.mu.Lock()
	b.seen = seen
	b.mu.Unlock()
	b.tell()
}

// tell wakes whoever waits on Changed.
func (b *Board) tell() {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.changed)
	b.changed = make(chan struct{})
}

// writeLoop writes what was announced, a batch at a time, while this
// replica holds the Lease; announcements it could not write before losing
// the Lease are dropped (nobody else will have agreed on them).
func (b *Board) writeLoop(ctx context.Context) {
	held := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.wake:
		case <-time.After(time.Second): // retries a failed write, looks at the Lease
		}
		if now := b.held() == nil; now != held {
			held = now
			if held { // the new holder announces the data it has, if nobody did
				b.tell()
			}
		}
		if err := b.writePending(ctx); err != nil {
			b.log.Warn("could not write the agreed DNS serials (retrying)", "configmap", b.namespace+"/"+b.name, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(writeEvery):
		}
	}
}

// writePending merges the pending announcements into the ConfigMap.
func (b *Board) writePending(ctx context.Context) error {
	b.mu.Lock()
	pending := b.pending
	b.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	if err := b.held(); err != nil {
		b.mu.Lock()
		b.pending = map[string][]Entry{}
		b.mu.Unlock()
		b.log.Debug("announced DNS serials dropped: the Lease is no longer held", "err", err)
		return nil
	}
	cms := b.client.CoreV1().ConfigMaps(b.namespace)
	cm, err := cms.Get(ctx, b.name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: b.name, Namespace: b.namespace,
			Labels: map[string]string{"app.kubernetes.io/managed-by": "lbdns"}}}
		cm.Data = Format(Merge(nil, pending))
		cm, err = cms.Create(ctx, cm, metav1.CreateOptions{})
	case err == nil:
		cm.Data = Format(Merge(Parse(cm.Data), pending))
		cm, err = cms.Update(ctx, cm, metav1.UpdateOptions{}) // refused if it changed since the read
	}
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seen = Parse(cm.Data)         // what was written is agreed now, before the watch tells
	for zone, es := range pending { // keep what was announced while writing
		b.pending[zone] = slices.DeleteFunc(b.pending[zone], func(e Entry) bool { return slices.Contains(es, e) })
		if len(b.pending[zone]) == 0 {
			delete(b.pending, zone)
		}
	}
	return nil
}

// Merge adds the announcements of more to those of had: by serial, one
// entry each, the last Keep of every zone.
func Merge(had, more map[string][]Entry) map[string][]Entry {
	out := map[string][]Entry{}
	for _, m := range []map[string][]Entry{had, more} {
		for zone, es := range m {
			out[zone] = append(out[zone], es...)
		}
	}
	for zone, es := range out {
		slices.SortFunc(es, func(a, b Entry) int { return int(int64(a.Serial) - int64(b.Serial)) })
		es = slices.CompactFunc(es, func(a, b Entry) bool { return a.Serial == b.Serial })
		if len(es) > Keep {
			es = es[len(es)-Keep:]
		}
		out[zone] = es
	}
	return out
}

// The ConfigMap holds one key per zone (its name without the final dot;
// the root zone is "_root"), and one line per announcement: "serial digest".

func zoneKey(zone string) string {
	if k := strings.TrimSuffix(zone, "."); k != "" {
		return k
	}
	return "_root"
}

// Format is the ConfigMap data of the announcements.
func Format(m map[string][]Entry) map[string]string {
	out := make(map[string]string, len(m))
	for zone, es := range m {
		var sb strings.Builder
		for _, e := range es {
			fmt.Fprintf(&sb, "%d %s\n", e.Serial, e.Digest)
		}
		out[zoneKey(zone)] = sb.String()
	}
	return out
}

// Parse reads the announcements of ConfigMap data; lines it cannot read
// are skipped (they announce nothing).
func Parse(data map[string]string) map[string][]Entry {
	out := map[string][]Entry{}
	for key, text := range data {
		zone := key + "."
		if key == "_root" {
			zone = "."
		}
		for line := range strings.Lines(text) {
			serial, digest, ok := strings.Cut(strings.TrimSpace(line), " ")
			n, err := strconv.ParseUint(serial, 10, 32)
			if !ok || err != nil || n == 0 || digest == "" {
				continue
			}
			out[zone] = append(out[zone], Entry{Serial: uint32(n), Digest: digest})
		}
	}
	return out
}
