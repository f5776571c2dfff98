package source

import (
	"net/netip"
	"slices"
	"time"

	"github.com/lbdns/lbdns/model"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Lookup is what building one Service's targets reads besides the Service:
// its ready endpoints and the Node that holds an IP.
type Lookup interface {
	// ReadyEndpointsOf returns the ready endpoints of a Service's
	// EndpointSlices (ReadyEndpoints), a node at most once.
	ReadyEndpointsOf(service types.NamespacedName) []ReadyEndpoint
	// NodeOf returns the Node that holds ip, if any, and how that is known.
	NodeOf(ip netip.Addr) (*corev1.Node, MappedBy)
	// AllNodes returns every Node (for node-selectors).
	AllNodes() []*corev1.Node
}

// Model holds the targets of every opted-in Service and which hostnames and
// IPs they feed, so that a change of one Service, EndpointSlice or Node
// recomputes only the Services it touches and the hostnames they ask for,
// not the whole cluster. It is not safe for concurrent use.
type Model struct {
	opts     Options
	services map[types.NamespacedName]*serviceEntry
	// hosts and ips index the Services by the hostnames they ask for and
	// the IPs of their targets. Slices, not sets: an IP has one Service or
	// two, a hostname a few, and 10,000 small maps cost megabytes.
	hosts map[string][]types.NamespacedName
	ips   map[netip.Addr][]types.NamespacedName
	// selectors holds the Services with an IONOS node-selector: a change of
	// any Node may change what their check says.
	selectors map[types.NamespacedName]bool
	targets   int
}

// serviceEntry is what one opted-in Service contributes.
type serviceEntry struct {
	hostnames []string
	targets   []model.Target
	// conflicts are the hostnames external-dns's own annotations ask for too.
	conflicts []string
	floor     model.Floor
	selector  bool // it has an IONOS node-selector
	// created and shareWith decide who owns its hostnames (tenancy).
	created   time.Time
	shareWith []string
}

// NewModel returns an empty model.
func NewModel(o Options) *Model {
	return &Model{opts: o, services: map[types.NamespacedName]*serviceEntry{},
		hosts: map[string][]types.NamespacedName{}, ips: map[netip.Addr][]types.NamespacedName{}, selectors: map[types.NamespacedName]bool{}}
}

// Update recomputes one Service (svc nil: it is gone) and returns the
// hostnames whose groups may have changed (those it asked for before and
// now), the probe keys it no longer has, and its warnings.
func (m *Model) Update(name types.NamespacedName, svc *corev1.Service, look Lookup) (hostnames []string, removed []model.Key, warnings []Warning) {
	old := m.services[name]
	var next *serviceEntry
	if svc != nil {
		var settings Settings
		var ts []model.Target
		settings, ts, warnings = serviceTargets(svc, look, m.opts)
		hs := settings.Hostnames
		conflicts := externalDNSConflicts(svc, hs)
		if len(hs) > 0 {
			_, selector := svc.Annotations[AnnotationIONOSNodeSelector]
			next = &serviceEntry{hostnames: hs, targets: ts, conflicts: conflicts, floor: settings.Floor, selector: selector,
				created: svc.CreationTimestamp.Time, shareWith: settings.ShareWith}
		}
		for _, h := range conflicts {
			warnings = append(warnings, conflictWarning(svc, h))
		}
	}
	if old != nil {
		m.unlink(name, old)
		hostnames = append(hostnames, old.hostnames...)
		for _, t := range old.targets {
			if next == nil || !slices.ContainsFunc(next.targets, func(n model.Target) bool { return n.Key == t.Key }) {
				removed = append(removed, t.Key)
			}
		}
	}
	if next != nil {
		m.link(name, next)
		for _, h := range next.hostnames {
			if !slices.Contains(hostnames, h) {
				hostnames = append(hostnames, h)
			}
		}
	}
	return hostnames, removed, warnings
}

func (m *Model) link(name types.NamespacedName, e *serviceEntry) {
	m.services[name] = e
	if e.selector {
		m.selectors[name] = true
	}
	for _, h := range e.hostnames {
		m.hosts[h] = with(m.hosts[h], name)
	}
	for _, t := range e.targets {
		m.ips[t.IP] = with(m.ips[t.IP], name)
	}
	m.targets += len(e.targets)
}

func (m *Model) unlink(name types.NamespacedName, e *serviceEntry) {
	delete(m.services, name)
	delete(m.selectors, name)
	for _, h := range e.hostnames {
		if m.hosts[h] = without(m.hosts[h], name); len(m.hosts[h]) == 0 {
			delete(m.hosts, h)
		}
	}
	for _, t := range e.targets {
		if m.ips[t.IP] = without(m.ips[t.IP], name); len(m.ips[t.IP]) == 0 {
			delete(m.ips, t.IP)
		}
	}
	m.targets -= len(e.targets)
}

// with adds name to the set names (a slice), once.
func with(names []types.NamespacedName, name types.NamespacedName) []types.NamespacedName {
	if slices.Contains(names, name) {
		return names
	}
	return append(names, name)
}

// without removes name from the set names.
func without(names []types.NamespacedName, name types.NamespacedName) []types.NamespacedName {
	return slices.DeleteFunc(names, func(n types.NamespacedName) bool { return n == name })
}

// Claim is one Service's part of a hostname: what it would publish, and
// what decides whether it may (tenancy).
type Claim struct {
	Service   types.NamespacedName
	Created   time.Time
	ShareWith []string
	Targets   []model.Target
	Floor     model.Floor
	// ExternalDNSConflict: external-dns's own annotation asks for the
	// hostname too.
	ExternalDNSConflict bool
}

// Claims returns the Services that name a hostname, in no set order; none
// when no Service asks for it.
func (m *Model) Claims(hostname string) []Claim {
	names := m.hosts[hostname]
	out := make([]Claim, 0, len(names))
	for _, name := range names {
		e := m.services[name]
		out = append(out, Claim{Service: name, Created: e.created, ShareWith: e.shareWith, Targets: e.targets, Floor: e.floor,
			ExternalDNSConflict: slices.Contains(e.conflicts, hostname)})
	}
	return out
}

// NodeSelectorServices returns the Services with an IONOS node-selector,
// whose check reads every Node.
func (m *Model) NodeSelectorServices() []types.NamespacedName {
	out := make([]types.NamespacedName, 0, len(m.selectors))
	for n := range m.selectors {
		out = append(out, n)
	}
	return out
}

// Hostnames returns every hostname, sorted.
func (m *Model) Hostnames() []string {
	out := make([]string, 0, len(m.hosts))
	for h := range m.hosts {
		out = append(out, h)
	}
	slices.Sort(out)
	return out
}

// Services returns the names of every opted-in Service.
func (m *Model) Services() []types.NamespacedName {
	out := make([]types.NamespacedName, 0, len(m.services))
	for n := range m.services {
		out = append(out, n)
	}
	return out
}

// HostnamesOf returns the hostnames a Service asks for.
func (m *Model) HostnamesOf(name types.NamespacedName) []string {
	if e := m.services[name]; e != nil {
		return e.hostnames
	}
	return nil
}

// TargetsOf returns a Service's targets.
func (m *Model) TargetsOf(name types.NamespacedName) []model.Target {
	if e := m.services[name]; e != nil {
		return e.targets
	}
	return nil
}

// ServicesOn returns the Services with a target on ip.
func (m *Model) ServicesOn(ip netip.Addr) []types.NamespacedName {
	return slices.Clone(m.ips[ip])
}

// Size returns how many hostnames and targets the model holds.
func (m *Model) Size() (hostnames, targets int) { return len(m.hosts), m.targets }
