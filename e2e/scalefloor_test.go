package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
)

// apiFloor streams what lbdns's informers stream at a start (the Services
// and EndpointSlices of namespace, every Node) the way they do, as
// watch-lists in protobuf, and throws the bytes away: how long the API
// server takes to deliver a start's objects to a client that does nothing
// with them. lbdns's start cannot be faster on this machine; the
// difference is lbdns's own work. It returns that time and how many
// objects came.
func apiFloor(ctx context.Context, client kubernetes.Interface, namespace string) (time.Duration, int, error) {
	streams := []struct {
		rest      rest.Interface
		resource  string
		namespace string
	}{
		{client.CoreV1().RESTClient(), "services", namespace},
		{client.DiscoveryV1().RESTClient(), "endpointslices", namespace},
		{client.CoreV1().RESTClient(), "nodes", ""},
	}
	counts := make([]int, len(streams))
	errs := make([]error, len(streams))
	start := time.Now()
	var wg sync.WaitGroup
	for i, s := range streams {
		wg.Go(func() { counts[i], errs[i] = readInitialEvents(ctx, s.rest, s.resource, s.namespace) })
	}
	wg.Wait()
	took, total := time.Since(start), 0
	for _, n := range counts {
		total += n
	}
	return took, total, errors.Join(errs...)
}

// readInitialEvents opens a watch-list and reads its frames until the
// bookmark that ends the initial events; it counts the others.
func readInitialEvents(ctx context.Context, c rest.Interface, resource, namespace string) (int, error) {
	yes := true
	stream, err := c.Get().Namespace(namespace).Resource(resource).
		VersionedParams(&metav1.ListOptions{Watch: true, SendInitialEvents: &yes, AllowWatchBookmarks: true,
			ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan}, scheme.ParameterCodec).
		SetHeader("Accept", "application/vnd.kubernetes.protobuf;stream=watch").
		Stream(ctx)
	if err != nil {
		return 0, fmt.Errorf("watch-list of %s: %w", resource, err)
	}
	defer stream.Close()
	var head [4]byte
	var frame []byte
	// A protobuf watch stream is frames of a 4-byte big-endian length and a
	// WatchEvent whose first field is its type.
	bookmark := []byte("\x0a\x08BOOKMARK")
	for n := 0; ; n++ {
		if _, err := io.ReadFull(stream, head[:]); err != nil {
			return n, fmt.Errorf("watch-list of %s after %d objects: %w", resource, n, err)
		}
		size := binary.BigEndian.Uint32(head[:])
		if size > 64<<20 {
			return n, fmt.Errorf("watch-list of %s: a frame of %d bytes", resource, size)
		}
		if cap(frame) < int(size) {
			frame = make([]byte, size)
		}
		frame = frame[:size]
		if _, err := io.ReadFull(stream, frame); err != nil {
			return n, fmt.Errorf("watch-list of %s after %d objects: %w", resource, n, err)
		}
		if bytes.HasPrefix(frame, bookmark) && bytes.Contains(frame, []byte(metav1.InitialEventsAnnotationKey)) {
			return n, nil
		}
	}
}
