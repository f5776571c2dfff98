package e2e

import "github.com/lbdns/lbdns/e2e/framework"

// metric reads the connector instance's metric; see lbdnsProc.metric.
func (e *env) metric(name string, labels map[string]string) (float64, bool, error) {
	return e.connector.lbdns.metric(name, labels)
}

// metric returns the value of the lbdns metric with these labels (a subset
// match), and false when no such series exists.
func (l *lbdnsProc) metric(name string, labels map[string]string) (float64, bool, error) {
	return framework.Metric("http://"+l.http+"/metrics", name, labels)
}
