// Package crd writes the published sets as DNSEndpoint objects
// (externaldns.k8s.io/v1alpha1), one per hostname, for an external-dns run
// with --source=crd --events. It changes only objects labelled as its own,
// updates one only when its content changed, and deletes its obsolete ones.
package crd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/external-dns/apis/v1alpha1"
	"sigs.k8s.io/external-dns/endpoint"

	"github.com/lbdns/lbdns/provider"
)

// Output is the output label in metrics.
const Output = "crd"

// Labels and annotations on the objects lbdns writes.
const (
	ManagedByLabel     = "app.kubernetes.io/managed-by"
	ManagedByValue     = "lbdns"
	HostnameAnnotation = "lbdns.io/hostname"
)

// GVR is the DNSEndpoint resource.
var GVR = schema.GroupVersionResource{Group: "externaldns.k8s.io", Version: "v1alpha1", Resource: "dnsendpoints"}

// Writer keeps the DNSEndpoints of one namespace equal to the published sets.
// It is a provider.Writer; run it with a provider.WriteLoop.
type Writer struct {
	client    dynamic.NamespaceableResourceInterface
	namespace string
	log       *slog.Logger
}

// New returns a writer of DNSEndpoints in namespace.
func New(client dynamic.Interface, namespace string, log *slog.Logger) *Writer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Writer{client: client.Resource(GVR), namespace: namespace, log: log}
}

// Write makes the owned DNSEndpoints match the desired endpoints: one object
// per hostname, updated only when its content changed, obsolete ones deleted.
func (w *Writer) Write(ctx context.Context, d provider.Desired) error {
	ns := w.client.Namespace(w.namespace)
	desired := map[string]*v1alpha1.DNSEndpoint{}
	for _, ep := range d.Endpoints {
		name := ObjectName(ep.DNSName)
		obj, ok := desired[name]
		if !ok {
			obj = newObject(w.namespace, name, ep.DNSName)
			desired[name] = obj
		}
		obj.Spec.Endpoints = append(obj.Spec.Endpoints, ep)
	}
	owned, err := ns.List(ctx, metav1.ListOptions{LabelSelector: ManagedByLabel + "=" + ManagedByValue})
	if err != nil {
		return fmt.Errorf("listing DNSEndpoints in %s: %w", w.namespace, err)
	}
	existing := map[string]*unstructured.Unstructured{}
	for i := range owned.Items {
		existing[owned.Items[i].GetName()] = &owned.Items[i]
	}
	var errs []error
	for name, obj := range desired {
		cur, ok := existing[name]
		if ok {
			if same, err := sameSpec(cur, obj); err == nil && same {
				continue
			}
		}
		if d.DryRun {
			action := "create"
			if ok {
				action = "update"
			}
			d.Planned(provider.Change{Action: action, Name: "DNSEndpoint " + w.namespace + "/" + name, Records: specRecords(obj)})
			continue
		}
		if err := d.Fence(); err != nil {
			return err
		}
		if !ok {
			errs = append(errs, w.create(ctx, ns, obj))
		} else {
			errs = append(errs, w.update(ctx, ns, cur, obj))
		}
	}
	for name := range existing {
		if _, ok := desired[name]; !ok {
			if d.DryRun {
				d.Planned(provider.Change{Action: "delete", Name: "DNSEndpoint " + w.namespace + "/" + name})
				continue
			}
			if err := d.Fence(); err != nil {
				return err
			}
			errs = append(errs, w.delete(ctx, ns, name))
		}
	}
	return errors.Join(errs...)
}

// Ping checks cheaply that the API server answers for DNSEndpoints
// (provider.Pinger).
func (w *Writer) Ping(ctx context.Context) error {
	_, err := w.client.Namespace(w.namespace).List(ctx, metav1.ListOptions{Limit: 1})
	return err
}

func (w *Writer) delete(ctx context.Context, ns dynamic.ResourceInterface, name string) error {
	err := ns.Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting DNSEndpoint %s: %w", name, err)
	}
	w.log.Info("DNSEndpoint deleted", "name", name)
	return nil
}

func (w *Writer) create(ctx context.Context, ns dynamic.ResourceInterface, obj *v1alpha1.DNSEndpoint) error {
	u, err := toUnstructured(obj)
	if err != nil {
		return err
	}
	if _, err := ns.Create(ctx, u, metav1.CreateOptions{FieldManager: "lbdns"}); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("DNSEndpoint %s/%s exists but is not labelled %s=%s: lbdns leaves it alone", obj.Namespace, obj.Name, ManagedByLabel, ManagedByValue)
		}
		return fmt.Errorf("creating DNSEndpoint %s: %w", obj.Name, err)
	}
	w.log.Info("DNSEndpoint created", "name", obj.Name)
	return nil
}

func (w *Writer) update(ctx context.Context, ns dynamic.ResourceInterface, cur *unstructured.Unstructured, obj *v1alpha1.DNSEndpoint) error {
	obj.ResourceVersion = cur.GetResourceVersion()
	u, err := toUnstructured(obj)
	if err != nil {
		return err
	}
	if _, err := ns.Update(ctx, u, metav1.UpdateOptions{FieldManager: "lbdns"}); err != nil {
		return fmt.Errorf("updating DNSEndpoint %s: %w", obj.Name, err)
	}
	w.log.Info("DNSEndpoint updated", "name", obj.Name)
	return nil
}

// ObjectName is the DNSEndpoint name for a hostname: "lbdns-" and the
// hostname, made a valid object name.
func ObjectName(hostname string) string {
	n := strings.NewReplacer("*", "wildcard", "_", "-").Replace(strings.ToLower(hostname))
	n = "lbdns-" + n
	if len(n) > 253 {
		n = n[:253]
	}
	return strings.TrimRight(n, ".-")
}

func newObject(namespace, name, hostname string) *v1alpha1.DNSEndpoint {
	return &v1alpha1.DNSEndpoint{
		TypeMeta: metav1.TypeMeta{APIVersion: GVR.GroupVersion().String(), Kind: "DNSEndpoint"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   namespace,
			Name:        name,
			Labels:      map[string]string{ManagedByLabel: ManagedByValue},
			Annotations: map[string]string{HostnameAnnotation: hostname},
		},
	}
}

// toUnstructured goes through JSON: endpoint.Endpoint has an unexported
// field that the reflection-based converter refuses.
func toUnstructured(obj *v1alpha1.DNSEndpoint) (*unstructured.Unstructured, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encoding DNSEndpoint %s: %w", obj.Name, err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(b); err != nil {
		return nil, fmt.Errorf("encoding DNSEndpoint %s: %w", obj.Name, err)
	}
	delete(u.Object, "status")
	return u, nil
}

// sameSpec compares the endpoints of an existing object with the desired ones.
func sameSpec(cur *unstructured.Unstructured, want *v1alpha1.DNSEndpoint) (bool, error) {
	b, err := json.Marshal(cur.Object["spec"])
	if err != nil {
		return false, err
	}
	var have v1alpha1.DNSEndpointSpec
	if err := json.Unmarshal(b, &have); err != nil {
		return false, err
	}
	return slices.EqualFunc(have.Endpoints, want.Spec.Endpoints, sameEndpoint), nil
}

func sameEndpoint(a, b *endpoint.Endpoint) bool {
	return a.DNSName == b.DNSName && a.RecordType == b.RecordType && a.RecordTTL == b.RecordTTL &&
		slices.Equal(a.Targets, b.Targets) && sameLabels(a.Labels, b.Labels)
}

func sameLabels(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// specRecords are the record sets of obj, as a dry run shows them.
func specRecords(obj *v1alpha1.DNSEndpoint) []string {
	var out []string
	for _, ep := range obj.Spec.Endpoints {
		out = append(out, fmt.Sprintf("%s %s %s", ep.DNSName, ep.RecordType, strings.Join(ep.Targets, ",")))
	}
	return out
}
