package lbset

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
)

// View is what the set controller reads of lbdns's own view of the
// cluster: its Node cache, the ready endpoints of Services, what it
// publishes, the node agents' traffic and the tenancy rules.
type View interface {
	Nodes() []*corev1.Node
	// ReadyNodesOf returns the nodes that run a ready endpoint of a Service.
	ReadyNodesOf(namespace, service string) []string
	// Published reports whether lbdns publishes ip of the Service for hostname.
	Published(hostname, namespace, service string, ip netip.Addr) bool
	// Traffic is what the interface that carries ip moves, bits/s (the
	// larger direction), if a node agent reports it.
	Traffic(ip netip.Addr) (float64, bool)
	// Bandwidth is the node's capacity in bits/s.
	Bandwidth(node *corev1.Node) float64
	// MayClaim says whether a namespace may publish a hostname, and if not why.
	MayClaim(namespace, hostname string) (bool, string)
}

// Options configure the controller.
type Options struct {
	// AnnotationPrefix is lbdns's (lbdns.io/).
	AnnotationPrefix string
	// DrainFor is how long a drained Service stays before it is deleted.
	DrainFor time.Duration
	// Leading reports whether this replica may write.
	Leading  func() bool
	Recorder record.EventRecorder
	Logger   *slog.Logger
	Metrics  *Metrics
	Now      func() time.Time
}

// Controller decides every set and carries its decisions out.
type Controller struct {
	services kubernetes.Interface
	sets     dynamic.NamespaceableResourceInterface
	view     View
	opts     Options
	seen     map[string]*LoadBalancerSet // by namespace/name: whose series to drop when it goes
	lastErr  map[string]string           // by namespace/name: an error is logged when it changes, not every round

	mu      sync.Mutex
	reports []Report // of the last round, for /status and the page
}

// Report is what /status and the status page show of a set.
type Report struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Hostname  string `json:"hostname"`
	DryRun    bool   `json:"dryRun,omitempty"`
	Status    Status `json:"status"`
	// Error is the last write the API server refused, if the last round had one.
	Error string `json:"error,omitempty"`
}

// Reports returns the sets as the last round left them.
func (c *Controller) Reports() []Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.reports)
}

// New returns a controller; Sync does one round.
func New(services kubernetes.Interface, dyn dynamic.Interface, view View, opts Options) *Controller {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Leading == nil {
		opts.Leading = func() bool { return true }
	}
	return &Controller{services: services, sets: dyn.Resource(GroupVersionResource), view: view, opts: opts, seen: map[string]*LoadBalancerSet{},
		lastErr: map[string]string{}}
}

// warnOnChange logs a set's error when it differs from its last one, and
// when the set is well again: a set that keeps failing the same way costs one
// line, not one per round.
func (c *Controller) warnOnChange(set string, err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if msg == c.lastErr[set] {
		return
	}
	if msg == "" {
		c.opts.Logger.Info("LoadBalancerSet: writes succeed again", "set", set)
		delete(c.lastErr, set)
		return
	}
	c.opts.Logger.Warn("LoadBalancerSet: a write was refused (logged again when the error changes)", "set", set, "err", err)
	c.lastErr[set] = msg
}

// Outcome is what one round did to one set.
type Outcome struct {
	Set     string
	Plan    Plan
	Written []Action
	Err     error
	status  Status
}

// Sync decides every set of namespace ("" all) once, writes what it
// decided (unless the set is a dry run or this replica does not lead) and
// the sets' status.
func (c *Controller) Sync(ctx context.Context, namespace string, sets []*LoadBalancerSet, services []*corev1.Service) []Outcome {
	var out []Outcome
	var reports []Report
	now := map[string]*LoadBalancerSet{}
	for _, set := range sets {
		if namespace != "" && set.Namespace != namespace {
			continue
		}
		now[set.Namespace+"/"+set.Name] = set
		var own []*corev1.Service
		for _, svc := range services {
			if Owned(set, svc) {
				own = append(own, svc)
			}
		}
		o := c.syncSet(ctx, set, own)
		c.warnOnChange(o.Set, o.Err)
		out = append(out, o)
		r := Report{Namespace: set.Namespace, Name: set.Name, Hostname: set.Spec.Hostname, DryRun: set.Spec.DryRun, Status: o.status}
		if o.Err != nil {
			r.Error = o.Err.Error()
		}
		reports = append(reports, r)
	}
	slices.SortFunc(reports, func(a, b Report) int {
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
	})
	c.mu.Lock()
	c.reports = reports
	c.mu.Unlock()
	for key, set := range c.seen {
		if now[key] == nil {
			c.opts.Metrics.forget(set.Namespace, set.Name)
			delete(c.lastErr, key)
		}
	}
	c.seen = now
	return out
}

func (c *Controller) syncSet(ctx context.Context, set *LoadBalancerSet, own []*corev1.Service) Outcome {
	o := Outcome{Set: set.Namespace + "/" + set.Name}
	status := set.Status
	s, err := SettingsOf(set.Spec)
	if err == nil && len(set.Name) > MaxNameLength {
		err = fmt.Errorf("metadata.name: at most %d characters, so that its Services' names (<name>-<n>) are valid", MaxNameLength)
	}
	if err != nil {
		setCondition(&status, "Valid", false, "InvalidSpec", err.Error(), set.Generation)
		o.Err, o.status = c.writeStatus(ctx, set, status), status
		return o
	}
	setCondition(&status, "Valid", true, "Valid", "the spec is valid", set.Generation)
	if ok, why := c.view.MayClaim(set.Namespace, s.Hostname); !ok {
		setCondition(&status, "HostnameAllowed", false, "HostnameNotAllowed", why, set.Generation)
		o.Err, o.status = c.writeStatus(ctx, set, status), status
		return o
	}
	setCondition(&status, "HostnameAllowed", true, "Allowed", fmt.Sprintf("namespace %s may publish %s", set.Namespace, s.Hostname), set.Generation)
	in, nodeValues := c.input(set, s, own)
	o.Plan = Decide(in)
	if !set.Spec.DryRun && c.opts.Leading() {
		for _, a := range o.Plan.Actions {
			if err := c.apply(ctx, set, s, a, nodeValues[a.Node]); err != nil {
				o.Err = err
				break
			}
			o.Written = append(o.Written, a)
		}
	}
	c.report(set, o)
	fillStatus(&status, in, o.Plan, set.Spec.DryRun, set.Generation)
	if err := c.writeStatus(ctx, set, status); err != nil && o.Err == nil {
		o.Err = err
	}
	c.opts.Metrics.observe(set.Namespace, set.Name, status, o)
	o.status = status
	return o
}

// input gathers the planner's view of a set; it also returns each node's
// value of the placement label.
func (c *Controller) input(set *LoadBalancerSet, s Settings, own []*corev1.Service) (Input, map[string]string) {
	in := Input{Set: set.Name, Min: s.MinServices, Max: s.MaxServices, Target: s.Target, Desired: set.Status.Desired,
		ScaleOutAfter: s.ScaleOutAfter, ScaleInAfter: s.ScaleInAfter, Cooldown: s.Cooldown, DrainFor: c.opts.DrainFor, NoIPFor: NoIPFor,
		Now:        c.opts.Now(),
		AboveSince: timeOf(set.Status.AboveSince), BelowSince: timeOf(set.Status.BelowSince), LastScale: timeOf(set.Status.LastScale)}
	withPods := map[string]bool{}
	for _, svc := range own {
		m, err := MemberOf(svc)
		if err != nil {
			if c.lastErr["service "+err.Error()] == "" { // once per distinct problem
				c.opts.Logger.Warn("LoadBalancerSet: a Service of the set is unreadable, left alone", "err", err)
				if len(c.lastErr) > 1000 { // bounded, whatever labels someone writes
					clear(c.lastErr)
				}
				c.lastErr["service "+err.Error()] = "logged"
			}
			continue
		}
		if ip, err := netip.ParseAddr(m.IP); err == nil {
			m.Published = c.view.Published(s.Hostname, svc.Namespace, svc.Name, ip)
			m.Traffic, _ = c.view.Traffic(ip)
		}
		for _, n := range c.view.ReadyNodesOf(svc.Namespace, svc.Name) {
			withPods[n] = true
		}
		in.Members = append(in.Members, m)
	}
	values := map[string]string{}
	selector := labels.SelectorFromSet(s.Placement.NodeSelector)
	local := s.Template.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
	for _, n := range c.view.Nodes() {
		node := Node{Name: n.Name, HasPods: withPods[n.Name], Bandwidth: c.view.Bandwidth(n)}
		value, labelled := n.Labels[s.NodeLabel]
		values[n.Name] = value
		node.Why = ineligible(n, selector, s.NodeLabel, labelled)
		if node.Why == "" && local && len(in.Members) > 0 && !node.HasPods {
			node.Why = "runs no ready pod of the set (externalTrafficPolicy: Local)"
		}
		node.Eligible = node.Why == ""
		in.Nodes = append(in.Nodes, node)
	}
	return in, values
}

// ineligible says why a node cannot carry an IP of the set, or "".
func ineligible(n *corev1.Node, selector labels.Selector, label string, labelled bool) string {
	ready := false
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			ready = c.Status == corev1.ConditionTrue
		}
	}
	switch {
	case !ready:
		return "is not Ready"
	case n.Spec.Unschedulable:
		return "is cordoned"
	case slices.ContainsFunc(n.Spec.Taints, func(t corev1.Taint) bool { return t.Key == "ToBeDeletedByClusterAutoscaler" }):
		return "is being deleted by the cluster autoscaler"
	case !selector.Matches(labels.Set(n.Labels)):
		return "is not picked by the set's nodeSelector"
	case !labelled:
		return "has no label " + label
	}
	return ""
}

// apply carries out one action.
func (c *Controller) apply(ctx context.Context, set *LoadBalancerSet, s Settings, a Action, nodeValue string) error {
	services := c.services.CoreV1().Services(set.Namespace)
	switch a.Kind {
	case Create:
		index := 0
		if _, err := fmt.Sscanf(a.Service[len(set.Name)+1:], "%d", &index); err != nil {
			return fmt.Errorf("bad name %s: %w", a.Service, err)
		}
		_, err := services.Create(ctx, NewService(set, s, c.opts.AnnotationPrefix, index, a.Node, nodeValue), metav1.CreateOptions{})
		return err
	case Drain:
		patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"0",%q:%q}}}`, c.opts.AnnotationPrefix+"weight", AnnotationDrain,
			c.opts.Now().UTC().Format(time.RFC3339))
		_, err := services.Patch(ctx, a.Service, "application/merge-patch+json", []byte(patch), metav1.PatchOptions{})
		return err
	case Delete:
		svc, err := services.Get(ctx, a.Service, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !Owned(set, svc) { // never delete what the set did not create
			return fmt.Errorf("service %s/%s is not the set's: left alone", set.Namespace, a.Service)
		}
		uid := svc.UID
		return services.Delete(ctx, a.Service, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	}
	return fmt.Errorf("unknown action %s", a.Kind)
}

// report makes an event of each action (or of what a dry run would do).
func (c *Controller) report(set *LoadBalancerSet, o Outcome) {
	if c.opts.Recorder == nil {
		return
	}
	for _, a := range o.Plan.Actions {
		verb := map[ActionKind]string{Create: "created", Drain: "drained", Delete: "deleted"}[a.Kind]
		if set.Spec.DryRun {
			c.opts.Recorder.Eventf(set, corev1.EventTypeNormal, "DryRun", "would have %s Service %s on node %s: %s", verb, a.Service, a.Node, a.Reason)
			continue
		}
		if slices.Contains(o.Written, a) {
			c.opts.Recorder.Eventf(set, corev1.EventTypeNormal, "Service"+string(a.Kind)+"d", "%s Service %s on node %s: %s", verb, a.Service, a.Node, a.Reason)
		}
	}
	if o.Plan.Blocked != "" {
		c.opts.Recorder.Event(set, corev1.EventTypeWarning, "NoEligibleNode", o.Plan.Blocked)
	}
}

// writeStatus writes the set's status when it changed and this replica
// leads.
func (c *Controller) writeStatus(ctx context.Context, set *LoadBalancerSet, status Status) error {
	if !c.opts.Leading() || equalStatus(set.Status, status) {
		return nil
	}
	next := set.DeepCopy()
	next.Status = status
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(next)
	if err != nil {
		return err
	}
	_, err = c.sets.Namespace(set.Namespace).UpdateStatus(ctx, &unstructured.Unstructured{Object: obj}, metav1.UpdateOptions{})
	return err
}
