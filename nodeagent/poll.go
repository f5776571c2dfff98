package nodeagent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Endpoint is a node whose agent to ask, at its address.
type Endpoint struct {
	Node string
	Addr netip.Addr
}

// PollerOptions configure a Poller.
type PollerOptions struct {
	// Port is the agents' port on every node.
	Port int
	// Interval between two rounds; Timeout of one answer.
	Interval, Timeout time.Duration
	// Endpoints returns the nodes to ask, each round.
	Endpoints func() []Endpoint
	// Token is sent as a bearer token, when set (LBDNS_AGENT_TOKEN).
	Token string
	// Moved is told the IPs whose node changed after a round.
	Moved  func(ips []netip.Addr)
	Logger *slog.Logger
}

// maxInFlight bounds the agents asked at once.
const maxInFlight = 16

// maxReport bounds an agent's answer: a node with hundreds of interfaces
// fits in a few hundred kilobytes.
const maxReport = 1 << 20

// Poller asks every node's agent, each round, and maps IP -> node from the
// answers. An agent that does not answer keeps its last answer (marked
// stale): a failed read is not "this node holds nothing".
type Poller struct {
	opts   PollerOptions
	client *http.Client

	mu        sync.RWMutex
	nodes     map[string]*nodeState
	placed    map[netip.Addr]Place
	ambiguous map[netip.Addr][]string
}

// nodeState is what the Poller knows of one node's agent.
type nodeState struct {
	addr       netip.Addr
	report     Report
	answered   bool // ever
	ok         bool // the last round
	lastErr    string
	lastAnswer time.Time
}

// Place is where an IP sits: its node and the interface that holds it, with
// that interface's rates.
type Place struct {
	Node      string
	Interface Interface
	Stale     bool // from an agent that did not answer the last round
}

// NewPoller returns a Poller; Run starts it.
func NewPoller(o PollerOptions) *Poller {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	// One idle connection per agent, kept across rounds.
	transport := &http.Transport{MaxIdleConnsPerHost: 1, IdleConnTimeout: 2 * o.Interval,
		DialContext: (&net.Dialer{Timeout: o.Timeout}).DialContext}
	return &Poller{opts: o, client: &http.Client{Timeout: o.Timeout, Transport: transport},
		nodes: map[string]*nodeState{}, placed: map[netip.Addr]Place{}}
}

// Run asks the agents every interval until ctx ends.
func (p *Poller) Run(ctx context.Context) {
	t := time.NewTicker(p.opts.Interval)
	defer t.Stop()
	for {
		p.Round(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Round asks every agent once and updates the map.
func (p *Poller) Round(ctx context.Context) {
	eps := p.opts.Endpoints()
	answers := make([]answer, len(eps))
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	for i, ep := range eps {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			answers[i].report, answers[i].err = p.ask(ctx, ep)
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	if moved := p.record(eps, answers, time.Now()); len(moved) > 0 && p.opts.Moved != nil {
		p.opts.Moved(moved)
	}
}

type answer struct {
	report Report
	err    error
}

func (p *Poller) ask(ctx context.Context, ep Endpoint) (Report, error) {
	url := "http://" + net.JoinHostPort(ep.Addr.String(), strconv.Itoa(p.opts.Port)) + Path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Report{}, err
	}
	if p.opts.Token != "" {
		req.Header.Set("Authorization", "Bearer "+p.opts.Token)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return Report{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Report{}, fmt.Errorf("%s answered %s", url, resp.Status)
	}
	var r Report
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxReport)).Decode(&r); err != nil {
		return Report{}, fmt.Errorf("%s: reading the answer: %w", url, err)
	}
	if r.Node != ep.Node {
		// An agent of another node behind this address (a stale IP, a
		// misconfigured port) must not place IPs on this node.
		return Report{}, fmt.Errorf("%s says it is the agent of node %q, not %q", url, r.Node, ep.Node)
	}
	return r, nil
}

// record keeps the answers of a round, forgets nodes that are gone, and
// returns the IPs whose place changed.
func (p *Poller) record(eps []Endpoint, answers []answer, now time.Time) []netip.Addr {
	p.mu.Lock()
	defer p.mu.Unlock()
	asked := map[string]bool{}
	for i, ep := range eps {
		asked[ep.Node] = true
		s := p.nodes[ep.Node]
		if s == nil {
			s = &nodeState{}
			p.nodes[ep.Node] = s
		}
		s.addr = ep.Addr
		if err := answers[i].err; err != nil {
			if s.ok || !s.answered && s.lastErr == "" {
				p.opts.Logger.Warn("node agent does not answer", "node", ep.Node, "err", err)
			}
			s.ok, s.lastErr = false, err.Error()
			continue
		}
		if !s.ok && s.answered {
			p.opts.Logger.Info("node agent answers again", "node", ep.Node)
		}
		s.report, s.answered, s.ok, s.lastErr, s.lastAnswer = answers[i].report, true, true, "", now
	}
	for name := range p.nodes {
		if !asked[name] {
			delete(p.nodes, name) // its Node is gone
		}
	}
	placed, ambiguous := place(p.nodes)
	var moved []netip.Addr
	for ip, pl := range placed {
		if old, ok := p.placed[ip]; !ok || old.Node != pl.Node {
			moved = append(moved, ip)
		}
	}
	for ip := range p.placed {
		if _, ok := placed[ip]; !ok {
			moved = append(moved, ip)
		}
	}
	p.placed, p.ambiguous = placed, ambiguous
	slices.SortFunc(moved, netip.Addr.Compare)
	return moved
}

// place maps each address the agents report to the one node that holds it.
// Fresh answers win over stale ones (an IP the cloud moved away from a dead
// node); an IP that several fresh (or, with none fresh, several stale)
// answers claim is ambiguous and placed nowhere.
func place(nodes map[string]*nodeState) (map[netip.Addr]Place, map[netip.Addr][]string) {
	claims := map[netip.Addr][]Place{}
	for name, s := range nodes {
		if !s.answered {
			continue
		}
		for _, ifc := range s.report.Interfaces {
			if sharedInterfaces[ifc.Name] {
				continue
			}
			for _, ip := range ifc.Addresses {
				if ip = ip.Unmap(); placeable(ip) {
					claims[ip] = append(claims[ip], Place{Node: name, Interface: ifc, Stale: !s.ok})
				}
			}
		}
	}
	placed, ambiguous := map[netip.Addr]Place{}, map[netip.Addr][]string{}
	for ip, cs := range claims {
		fresh := slices.DeleteFunc(slices.Clone(cs), func(c Place) bool { return c.Stale })
		if len(fresh) > 0 {
			cs = fresh
		}
		if len(cs) == 1 {
			placed[ip] = cs[0]
			continue
		}
		for _, c := range cs {
			ambiguous[ip] = append(ambiguous[ip], c.Node)
		}
		slices.Sort(ambiguous[ip])
	}
	return placed, ambiguous
}

// NodeOf returns the node whose agent reports ip.
func (p *Poller) NodeOf(ip netip.Addr) (string, bool) {
	pl, ok := p.PlaceOf(ip)
	return pl.Node, ok
}

// PlaceOf returns where ip sits, with its interface's rates.
func (p *Poller) PlaceOf(ip netip.Addr) (Place, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	pl, ok := p.placed[ip]
	return pl, ok
}

// IPsOf returns the addresses the agent of node reports, sorted.
func (p *Poller) IPsOf(node string) []netip.Addr {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var out []netip.Addr
	for ip, pl := range p.placed {
		if pl.Node == node {
			out = append(out, ip)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// AgentStatus is one node's agent as /status shows it.
type AgentStatus struct {
	Node       string     `json:"node"`
	Address    string     `json:"address"`
	Answering  bool       `json:"answering"`
	LastAnswer *time.Time `json:"lastAnswer,omitempty"`
	LastError  string     `json:"lastError,omitempty"`
	// IPs counts the addresses it placed on its node.
	IPs int `json:"ips"`
}

// Status returns every agent's state, sorted by node, and the IPs more than
// one agent reports (placed nowhere).
func (p *Poller) Status() ([]AgentStatus, map[netip.Addr][]string) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	count := map[string]int{}
	for _, pl := range p.placed {
		count[pl.Node]++
	}
	out := make([]AgentStatus, 0, len(p.nodes))
	for name, s := range p.nodes {
		a := AgentStatus{Node: name, Address: s.addr.String(), Answering: s.ok, LastError: s.lastErr, IPs: count[name]}
		if s.answered {
			at := s.lastAnswer
			a.LastAnswer = &at
		}
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b AgentStatus) int { return strings.Compare(a.Node, b.Node) })
	return out, p.ambiguous
}
