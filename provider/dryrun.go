package provider

import (
	"fmt"
	"slices"
	"strings"
)

// A Change is one change a writer would make, as a dry run reports it.
type Change struct {
	// Action is create, update or delete.
	Action string `json:"action"`
	// Name is what changes: a record set ("app.example.com A") or an object
	// ("DNSEndpoint lbdns/app-example-com").
	Name string `json:"name"`
	// Records are its records after the change (none for a delete).
	Records []string `json:"records,omitempty"`
}

func (c Change) String() string {
	if len(c.Records) == 0 {
		return c.Action + " " + c.Name
	}
	return fmt.Sprintf("%s %s [%s]", c.Action, c.Name, strings.Join(c.Records, " "))
}

// Plan is the changes of one dry-run sync, in a stable order.
type Plan []Change

func (p Plan) sorted() Plan {
	out := slices.Clone(p)
	slices.SortFunc(out, func(a, b Change) int {
		return strings.Compare(a.Name+" "+a.Action, b.Name+" "+b.Action)
	})
	return out
}

func (p Plan) equal(q Plan) bool {
	return slices.EqualFunc(p, q, func(a, b Change) bool {
		return a.Action == b.Action && a.Name == b.Name && slices.Equal(a.Records, b.Records)
	})
}
