package config

import "time"

// Sets holds the settings of LoadBalancerSets (lbset): lbdns creating,
// replacing and scaling LoadBalancer Services itself. Off by default: it
// writes Services, which needs the RBAC of manifests/sets.
type Sets struct {
	Enabled  bool          `env:"SETS" envDefault:"false" help:"keep the Services of LoadBalancerSets (lbdns.io/v1alpha1; install manifests/sets): create them on distinct nodes, replace those whose node dies, add or drain one as traffic grows or falls; writes run on the leader only"`
	Interval time.Duration `env:"SETS_INTERVAL" envDefault:"5s" help:"time between two decisions of every LoadBalancerSet (changes of its Services and Nodes also trigger one)"`
}

func (s Sets) validate() []error {
	var p problems
	if s.Interval < time.Second || s.Interval > 10*time.Minute {
		p.bad("SETS_INTERVAL", "must be 1s..10m, got %s", s.Interval)
	}
	return p
}
