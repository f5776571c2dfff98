// Package config reads lbdns's settings from LBDNS_* environment variables,
// validates them in one pass, and describes them for --help. Settings are
// grouped by concern, one struct each with its own validation; `lbdns`
// loads them all (Load), `lbdns agent` only its own (LoadAgent).
package config

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v10"
	"github.com/lbdns/lbdns/bandwidth"
)

// Prefix is the prefix of every environment variable lbdns reads.
const Prefix = "LBDNS_"

// Config holds every setting of lbdns. Each field's `help` tag feeds --help
// and docs/configuration.md; the groups appear in this order.
type Config struct {
	Log            Log            `group:"Logs"`
	HTTP           HTTP           `group:"HTTP: metrics, health, status"`
	Connector      Connector      `group:"Connector (external-dns --source=connector)"`
	Clusters       Clusters       `group:"Clusters"`
	Source         Source         `group:"Services, EndpointSlices and Nodes"`
	Publish        Publish        `group:"Published records"`
	Tenancy        Tenancy        `group:"Tenancy: who may publish which names"`
	Agent          Agent          `group:"Node agent"`
	Probe          Probe          `group:"Probes and flap damping"`
	Standalone     Standalone     `group:"Standalone updater (RFC 2136, webhook)"`
	Writers        Writers        `group:"Writers (standalone, DNSEndpoint)"`
	DNS            DNS            `group:"Embedded DNS server"`
	LeaderElection LeaderElection `group:"Leader election"`
	Sets           Sets           `group:"LoadBalancerSets (lbdns keeps the Services)"`
}

// AgentConfig holds the settings of `lbdns agent`, the node agent.
type AgentConfig struct {
	Log        Log
	HTTPLimits HTTPLimits
	Agent      Agent
}

// Load parses the environment (as KEY=VALUE pairs, like os.Environ) into a
// Config and validates it.
func Load(environ []string) (Config, error) {
	var cfg Config
	if err := parse(&cfg, environ); err != nil {
		return Config{}, err
	}
	return cfg, cfg.Validate()
}

// LoadAgent parses and validates the settings of `lbdns agent` only: the
// rest of the environment (the DaemonSet may share lbdns's) is not read.
func LoadAgent(environ []string) (AgentConfig, error) {
	var cfg AgentConfig
	if err := parse(&cfg, environ); err != nil {
		return AgentConfig{}, err
	}
	var p problems
	p = append(p, cfg.Log.validate()...)
	p = append(p, cfg.HTTPLimits.validate()...)
	p = append(p, cfg.Agent.validate(true)...)
	return cfg, errors.Join(p...)
}

// parse fills the struct cfg points to from environ, old names included.
func parse(cfg any, environ []string) error {
	vars := toMap(environ)
	for old, name := range renamed {
		if v, ok := vars[old]; ok {
			if _, set := vars[name]; !set {
				vars[name] = v
			}
		}
	}
	if err := env.ParseWithOptions(cfg, env.Options{Prefix: Prefix, Environment: vars}); err != nil {
		return explainParseError(err, reflect.TypeOf(cfg).Elem(), vars)
	}
	return nil
}

// Validate checks every setting and reports all problems at once, each
// naming its variable.
func (c Config) Validate() error {
	var p problems
	p = append(p, c.Log.validate()...)
	p = append(p, c.HTTP.validate()...)
	p = append(p, c.Connector.validate()...)
	p = append(p, c.Clusters.validate()...)
	p = append(p, c.Source.validate()...)
	p = append(p, c.Publish.validate()...)
	p = append(p, c.Tenancy.validate()...)
	p = append(p, c.Agent.validate(false)...)
	p = append(p, c.Probe.validate()...)
	p = append(p, c.Standalone.validate()...)
	p = append(p, c.Writers.validate()...)
	p = append(p, c.DNS.validate()...)
	p = append(p, c.Sets.validate()...)
	if c.LeaderElection.Enabled {
		p = append(p, c.LeaderElection.validate()...)
	}
	return errors.Join(p...)
}

// NeedsLease reports whether this replica campaigns for the Lease: with
// leader election, for the writers, the embedded DNS's serials and the
// LoadBalancerSets' writes.
func (c Config) NeedsLease() bool {
	return c.LeaderElection.Enabled && (c.HasWriters() || c.DNS.TransfersOn() || c.Sets.Enabled)
}

// HasWriters reports whether any output that writes (standalone,
// DNSEndpoint) is on.
func (c Config) HasWriters() bool { return c.Standalone.Provider != "" || c.Writers.CRDNamespace != "" }

// renamed maps old variable names, still read, to their new ones.
var renamed = map[string]string{
	Prefix + "WEIGHT_BY_NODE": Prefix + "DNS_WEIGHT_BY_NODE",
}

// Deprecated lists what environ sets under an old name, each with the name to
// use instead, for a warning at start.
func Deprecated(environ []string) []string {
	vars := toMap(environ)
	var out []string
	for old, name := range renamed {
		if _, ok := vars[old]; ok {
			out = append(out, fmt.Sprintf("%s is deprecated: use %s", old, name))
		}
	}
	slices.Sort(out)
	return out
}

// explainParseError rewrites the env library's errors, which name struct
// fields, so that each names the variable and the value the user gave.
func explainParseError(err error, t reflect.Type, vars map[string]string) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return fmt.Errorf("reading environment: %w", err)
	}
	var errs []error
	for _, e := range agg.Errors {
		var pe env.ParseError
		if !errors.As(e, &pe) {
			errs = append(errs, e)
			continue
		}
		f, ok := failedField(t, pe, vars)
		if !ok {
			errs = append(errs, e)
			continue
		}
		name := Prefix + f.Tag.Get("env")
		errs = append(errs, fmt.Errorf("%s: %q is not a valid %s (default %s)", name, vars[name], typeWord(f.Type), f.Tag.Get("envDefault")))
	}
	return errors.Join(errs...)
}

// failedField finds the field the env library could not parse: the groups
// reuse field names (Probe.Interval, Agent.Interval), so it is the one of
// that name and type whose value does not parse.
func failedField(t reflect.Type, pe env.ParseError, vars map[string]string) (reflect.StructField, bool) {
	for _, f := range fields(t) {
		if f.Name != pe.Name || f.Type != pe.Type {
			continue
		}
		if v, set := vars[Prefix+f.Tag.Get("env")]; set && !parses(f.Type, v) {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// parses reports whether v is a valid value of a setting of type t.
func parses(t reflect.Type, v string) bool {
	var err error
	switch {
	case t == reflect.TypeOf(time.Duration(0)):
		_, err = time.ParseDuration(v)
	case t == reflect.TypeOf(bandwidth.BitsPerSecond(0)):
		_, err = bandwidth.Parse(v)
	case t.Kind() == reflect.Bool:
		_, err = strconv.ParseBool(v)
	case t.Kind() == reflect.Float64:
		_, err = strconv.ParseFloat(v, 64)
	case t.Kind() == reflect.Int, t.Kind() == reflect.Int64:
		_, err = strconv.ParseInt(v, 10, 64)
	}
	return err == nil
}

func typeWord(t reflect.Type) string {
	switch {
	case t == reflect.TypeOf(time.Duration(0)):
		return "duration like 2s or 500ms"
	case t == reflect.TypeOf(bandwidth.BitsPerSecond(0)):
		return "bandwidth like 2G, 1.5G or 500M (bits per second)"
	case t.Kind() == reflect.Bool:
		return "boolean (true or false)"
	case t.Kind() == reflect.Slice:
		return "comma-separated list"
	case t.Kind() == reflect.Float64:
		return "number"
	default:
		return "integer"
	}
}

// problems collects validation errors, each naming its variable.
type problems []error

func (p *problems) bad(name, format string, args ...any) {
	*p = append(*p, fmt.Errorf("%s%s: %s", Prefix, name, fmt.Sprintf(format, args...)))
}

func toMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}
