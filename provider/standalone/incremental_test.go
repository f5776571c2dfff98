package standalone

import (
	"context"
	"errors"
	"slices"
	"testing"

	"sigs.k8s.io/external-dns/endpoint"
	"sigs.k8s.io/external-dns/plan"
	"sigs.k8s.io/external-dns/provider"
)

// recordSet applies changes the way the IONOS webhook does (deletes of
// matching records, then creates, one record at a time) and remembers every
// state a reader could have seen in between.
type recordSet struct {
	provider.BaseProvider
	records []string // "name/type/target"
	seen    [][]string
	failAt  int // fail the Nth single-record call (1-based); 0: never
	calls   int
}

func (r *recordSet) Records(context.Context) ([]*endpoint.Endpoint, error) { return nil, nil }

func (r *recordSet) ApplyChanges(_ context.Context, c *plan.Changes) error {
	del, create := slices.Clone(c.Delete), slices.Clone(c.Create)
	for i := range c.UpdateOld {
		del, create = append(del, c.UpdateOld[i]), append(create, c.UpdateNew[i])
	}
	step := func(f func()) error {
		r.calls++
		if r.calls == r.failAt {
			return errors.New("refused")
		}
		f()
		r.seen = append(r.seen, slices.Clone(r.records))
		return nil
	}
	for _, ep := range del {
		for _, t := range ep.Targets {
			k := ep.DNSName + "/" + ep.RecordType + "/" + t
			if err := step(func() { r.records = slices.DeleteFunc(r.records, func(s string) bool { return s == k }) }); err != nil {
				return err
			}
		}
	}
	for _, ep := range create {
		for _, t := range ep.Targets {
			if err := step(func() { r.records = append(r.records, ep.DNSName+"/"+ep.RecordType+"/"+t) }); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *recordSet) emptySeen(name string) int {
	n := 0
	for _, s := range r.seen {
		if !slices.ContainsFunc(s, func(k string) bool { return len(k) > len(name) && k[:len(name)+1] == name+"/" }) {
			n++
		}
	}
	return n
}

func aRecord(targets ...string) *endpoint.Endpoint {
	return endpoint.NewEndpointWithTTL("app.example.com", endpoint.RecordTypeA, 60, targets...)
}

// Withdrawing one of three IPs and restoring it: the IONOS way empties the
// name; incrementally it never is, and each change is one call.
func TestIncrementalNeverEmptiesAName(t *testing.T) {
	withdraw := &plan.Changes{UpdateOld: []*endpoint.Endpoint{aRecord("1.1.1.1", "2.2.2.2", "3.3.3.3")},
		UpdateNew: []*endpoint.Endpoint{aRecord("1.1.1.1", "2.2.2.2")}}
	restore := &plan.Changes{UpdateOld: []*endpoint.Endpoint{aRecord("1.1.1.1", "2.2.2.2")},
		UpdateNew: []*endpoint.Endpoint{aRecord("1.1.1.1", "2.2.2.2", "3.3.3.3")}}
	start := []string{"app.example.com/A/1.1.1.1", "app.example.com/A/2.2.2.2", "app.example.com/A/3.3.3.3"}

	plain := &recordSet{records: slices.Clone(start)}
	_ = plain.ApplyChanges(context.Background(), withdraw)
	_ = plain.ApplyChanges(context.Background(), restore)
	if plain.emptySeen("app.example.com") == 0 || plain.calls != 10 {
		t.Fatalf("the plain way: %d empty states in %d calls (want some, 10)", plain.emptySeen("app.example.com"), plain.calls)
	}

	inc := &recordSet{records: slices.Clone(start)}
	p := incremental{inc}
	if err := p.ApplyChanges(context.Background(), withdraw); err != nil {
		t.Fatal(err)
	}
	if err := p.ApplyChanges(context.Background(), restore); err != nil {
		t.Fatal(err)
	}
	if inc.emptySeen("app.example.com") != 0 || inc.calls != 2 || len(inc.records) != 3 {
		t.Fatalf("incremental: %d empty states, %d calls, records %v (want 0, 2, 3 records)", inc.emptySeen("app.example.com"), inc.calls, inc.records)
	}
}

// Replacing every IP: the new ones are added before the old ones go; a call
// refused half-way leaves a superset, never nothing.
func TestIncrementalReplaceAddsFirst(t *testing.T) {
	replace := &plan.Changes{UpdateOld: []*endpoint.Endpoint{aRecord("1.1.1.1")}, UpdateNew: []*endpoint.Endpoint{aRecord("2.2.2.2")}}
	for failAt := 1; failAt <= 2; failAt++ {
		r := &recordSet{records: []string{"app.example.com/A/1.1.1.1"}, failAt: failAt}
		err := incremental{r}.ApplyChanges(context.Background(), replace)
		if err == nil || r.emptySeen("app.example.com") != 0 || len(r.records) == 0 {
			t.Fatalf("call %d refused: err %v, %d empty states, records %v", failAt, err, r.emptySeen("app.example.com"), r.records)
		}
	}
	r := &recordSet{records: []string{"app.example.com/A/1.1.1.1"}}
	if err := (incremental{r}).ApplyChanges(context.Background(), replace); err != nil || !slices.Equal(r.records, []string{"app.example.com/A/2.2.2.2"}) {
		t.Fatalf("replace: %v %v", err, r.records)
	}
}
