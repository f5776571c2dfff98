package framework

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Lookup asks the DNS server at addr for name and type over UDP, and returns
// the answers as sorted strings (IPs for A/AAAA, text for TXT). NXDOMAIN and
// NODATA give no answers and no error.
func Lookup(addr, name, qtype string) ([]string, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.StringToType[qtype])
	c := &dns.Client{Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		return nil, err
	}
	if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
		return nil, fmt.Errorf("%s %s: rcode %s", name, qtype, dns.RcodeToString[r.Rcode])
	}
	var out []string
	for _, rr := range r.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			out = append(out, rr.A.String())
		case *dns.AAAA:
			out = append(out, rr.AAAA.String())
		case *dns.TXT:
			out = append(out, strings.Join(rr.Txt, ""))
		}
	}
	slices.Sort(out)
	return out, nil
}

// HTTPGet returns the body of a GET.
func HTTPGet(url string) (string, error) {
	_, body, err := HTTPGetCode(url)
	return body, err
}

// HTTPGetCode returns the status code and body of a GET.
func HTTPGetCode(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// HTTPOK is nil when a GET of url answers 200 within 2 s.
func HTTPOK(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s: %d %s", url, resp.StatusCode, b)
	}
	return nil
}

// MetricFamilies scrapes the Prometheus text at url, by metric name.
func MetricFamilies(url string) (map[string]*dto.MetricFamily, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(resp.Body)
}

// Metric scrapes the Prometheus text at url and returns the value of the
// metric with these labels (a subset match; a histogram's sample count),
// and false when no such series exists.
func Metric(url, name string, labels map[string]string) (float64, bool, error) {
	families, err := MetricFamilies(url)
	if err != nil {
		return 0, false, err
	}
	fam, ok := families[name]
	if !ok {
		return 0, false, nil
	}
	for _, m := range fam.Metric {
		if hasLabels(m, labels) {
			switch {
			case m.Gauge != nil:
				return m.Gauge.GetValue(), true, nil
			case m.Counter != nil:
				return m.Counter.GetValue(), true, nil
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount()), true, nil
			}
		}
	}
	return 0, false, nil
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, lp := range m.Label {
		if v, ok := want[lp.GetName()]; ok {
			if v != lp.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}
