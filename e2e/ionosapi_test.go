package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ionosAPI is NOT IONOS. It stands in for the IONOS Cloud DNS API (the paths,
// JSON shapes and status codes the ionos-cloud/sdk-go-dns v1.4.0 client
// uses: GET /zones, GET /records with filter.zoneId, filter.name,
// filter.state, offset and limit, POST /zones/{zoneId}/records, PUT and
// DELETE /zones/{zoneId}/records/{recordId}), because the real one cannot be
// reached from here. Like IONOS it refuses record TTLs outside 60..86,400 s
// (400), keeps every record a separate object, lists a new record as
// PROVISIONING for a moment before it is AVAILABLE, and answers each call
// after a configurable latency. It counts the calls that change records and
// can refuse the Nth of them.
type ionosAPI struct {
	addr      string
	latency   time.Duration
	provision time.Duration

	mu      sync.Mutex
	zones   map[string]string // id -> zone name
	records map[string]*ionosRecord
	nextID  int
	writes  atomic.Int64
	failAt  int64 // refuse this write (1-based); 0: none
	refused atomic.Int64
}

type ionosRecord struct {
	id, zoneID, name, typ, content string
	ttl                            int32
	availableAt                    time.Time
}

func newIONOSAPI(t *testing.T, zones ...string) *ionosAPI {
	t.Helper()
	a := &ionosAPI{zones: map[string]string{}, records: map[string]*ionosRecord{}, latency: 20 * time.Millisecond, provision: 50 * time.Millisecond}
	for i, z := range zones {
		a.zones[fmt.Sprintf("zone-%d", i+1)] = z
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a.addr = ln.Addr().String()
	srv := &http.Server{Handler: a, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return a
}

func (a *ionosAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	time.Sleep(a.latency)
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/zones":
		a.listZones(w)
	case r.Method == http.MethodGet && r.URL.Path == "/records":
		a.listRecords(w, r)
	case len(parts) == 3 && parts[0] == "zones" && parts[2] == "records" && r.Method == http.MethodPost:
		a.write(w, func() (int, any) { return a.create(parts[1], r) })
	case len(parts) == 4 && parts[0] == "zones" && parts[2] == "records" && r.Method == http.MethodDelete:
		a.write(w, func() (int, any) { return a.delete(parts[1], parts[3]) })
	default:
		ionosError(w, http.StatusNotFound, "not found in the stand-in")
	}
}

func ionosError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"httpStatus": code, "messages": []map[string]string{{"errorCode": "dns-stand-in", "message": msg}}})
}

func (a *ionosAPI) write(w http.ResponseWriter, f func() (int, any)) {
	if n := a.writes.Add(1); n == a.failAt {
		a.refused.Add(1)
		ionosError(w, http.StatusInternalServerError, "refused by the stand-in (fault injection)")
		return
	}
	a.mu.Lock()
	code, body := f()
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

func (a *ionosAPI) listZones(w http.ResponseWriter) {
	a.mu.Lock()
	var items []any
	for id, name := range a.zones {
		items = append(items, map[string]any{"id": id, "type": "zone", "href": "/zones/" + id,
			"metadata":   map[string]any{"state": "AVAILABLE", "nameservers": []string{"ns-ic.ui-dns.com"}},
			"properties": map[string]any{"zoneName": name, "enabled": true}})
	}
	a.mu.Unlock()
	writeJSON(w, map[string]any{"id": "zones", "type": "collection", "href": "/zones", "items": items, "offset": 0, "limit": 1000, "_links": map[string]any{}})
}

func (a *ionosAPI) listRecords(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	now := time.Now()
	a.mu.Lock()
	items := []any{}
	for _, rec := range a.records {
		state := rec.state(now)
		if (q.Get("filter.zoneId") != "" && q.Get("filter.zoneId") != rec.zoneID) || (q.Get("filter.name") != "" && q.Get("filter.name") != rec.name) ||
			(q.Get("filter.state") != "" && q.Get("filter.state") != state) {
			continue
		}
		items = append(items, a.recordJSON(rec, state))
	}
	a.mu.Unlock()
	writeJSON(w, map[string]any{"id": "records", "type": "collection", "href": "/records", "items": items, "offset": 0, "limit": 1000, "_links": map[string]any{}})
}

func (rec *ionosRecord) state(now time.Time) string {
	if now.Before(rec.availableAt) {
		return "PROVISIONING"
	}
	return "AVAILABLE"
}

func (rec *ionosRecord) fqdn(zone string) string {
	if rec.name == "" {
		return zone
	}
	return rec.name + "." + zone
}

func (a *ionosAPI) recordJSON(rec *ionosRecord, state string) map[string]any {
	return map[string]any{"id": rec.id, "type": "record", "href": "/zones/" + rec.zoneID + "/records/" + rec.id,
		"metadata":   map[string]any{"state": state, "fqdn": rec.fqdn(a.zones[rec.zoneID]), "zoneId": rec.zoneID},
		"properties": map[string]any{"name": rec.name, "type": rec.typ, "content": rec.content, "ttl": rec.ttl, "enabled": true}}
}

func (a *ionosAPI) create(zoneID string, r *http.Request) (int, any) {
	if _, ok := a.zones[zoneID]; !ok {
		return http.StatusNotFound, map[string]any{"httpStatus": 404, "messages": []map[string]string{{"message": "zone not found"}}}
	}
	var body struct {
		Properties struct {
			Name, Type, Content string
			TTL                 *int32 `json:"ttl"`
		} `json:"properties"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		return http.StatusBadRequest, map[string]any{"httpStatus": 400, "messages": []map[string]string{{"message": err.Error()}}}
	}
	ttl := int32(3600) // IONOS's default
	if body.Properties.TTL != nil {
		ttl = *body.Properties.TTL
	}
	if ttl < 60 || ttl > 86400 {
		return http.StatusBadRequest, map[string]any{"httpStatus": 400, "messages": []map[string]string{{"errorCode": "dns-422",
			"message": fmt.Sprintf("ttl %d: minimum 60 seconds and maximum 86.400 seconds", ttl)}}}
	}
	a.nextID++
	rec := &ionosRecord{id: fmt.Sprintf("rec-%d", a.nextID), zoneID: zoneID, name: body.Properties.Name, typ: body.Properties.Type,
		content: body.Properties.Content, ttl: ttl, availableAt: time.Now().Add(a.provision)}
	a.records[rec.id] = rec
	return http.StatusAccepted, a.recordJSON(rec, "PROVISIONING")
}

func (a *ionosAPI) delete(zoneID, id string) (int, any) {
	if rec, ok := a.records[id]; !ok || rec.zoneID != zoneID {
		return http.StatusNotFound, map[string]any{"httpStatus": 404, "messages": []map[string]string{{"message": "record not found"}}}
	}
	delete(a.records, id)
	return http.StatusAccepted, map[string]any{}
}

// published returns the contents of the AVAILABLE records of fqdn and type,
// sorted: what IONOS's name servers would answer.
func (a *ionosAPI) published(fqdn, typ string) []string {
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, rec := range a.records {
		if rec.typ == typ && rec.fqdn(a.zones[rec.zoneID]) == fqdn && rec.state(now) == "AVAILABLE" {
			out = append(out, rec.content)
		}
	}
	slices.Sort(out)
	return out
}

// ttlsOf returns the TTLs of fqdn's records of type typ.
func (a *ionosAPI) ttlsOf(fqdn, typ string) []int32 {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []int32
	for _, rec := range a.records {
		if rec.typ == typ && rec.fqdn(a.zones[rec.zoneID]) == fqdn {
			out = append(out, rec.ttl)
		}
	}
	return out
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
