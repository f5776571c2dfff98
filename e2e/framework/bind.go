package framework

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

// Bind is a BIND9 primary on 127.0.0.1 for a few zones, each accepting
// updates and transfers signed with one TSIG key (hmac-sha256). Every zone
// starts with a record nobody owns, unmanaged.<zone> A 192.0.2.250, which
// must survive whatever writes to the zone.
type Bind struct {
	*Proc
	// Addr is host:port of its UDP and TCP listener; Port is the port.
	Addr       string
	Port       int
	KeyName    string
	TSIGSecret string // base64
	Zones      []string

	dir, logDir string
	args        []string
}

// StartBind writes the zones and named.conf under logDir/bind and starts
// named, logging to logDir/named.log, then waits until it answers.
func StartBind(logDir, keyName string, zones ...string) (*Bind, error) {
	b := &Bind{KeyName: keyName, Zones: zones, dir: filepath.Join(logDir, "bind"), logDir: logDir}
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return nil, err
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	b.TSIGSecret = base64.StdEncoding.EncodeToString(secret)
	var err error
	if b.Port, err = FreePort(); err != nil {
		return nil, err
	}
	b.Addr = fmt.Sprintf("127.0.0.1:%d", b.Port)
	for _, z := range zones {
		zoneFile := fmt.Sprintf("$TTL 60\n@ IN SOA ns.%[1]s. admin.%[1]s. ( 1 60 60 3600 60 )\n@ IN NS ns.%[1]s.\nns IN A 127.0.0.1\n"+
			"unmanaged IN A 192.0.2.250\n", z)
		if err := os.WriteFile(filepath.Join(b.dir, z+".zone"), []byte(zoneFile), 0o644); err != nil {
			return nil, err
		}
	}
	if err := b.WriteConf(); err != nil {
		return nil, err
	}
	u, err := user.Current()
	if err != nil {
		return nil, err
	}
	b.args = []string{"-g", "-c", filepath.Join(b.dir, "named.conf"), "-u", u.Username}
	return b, b.Restart()
}

// WriteConf writes named.conf; the zones in refuseTransfers refuse zone
// transfers to everyone (a common misconfiguration) while they still accept
// updates. A running named reads it on Reload.
func (b *Bind) WriteConf(refuseTransfers ...string) error {
	conf := fmt.Sprintf(`key "%[1]s" { algorithm hmac-sha256; secret "%[2]s"; };
options { directory "%[3]s"; listen-on port %[4]d { 127.0.0.1; }; listen-on-v6 { none; };
  pid-file "%[3]s/named.pid"; recursion no; dnssec-validation no; notify no; };
controls { };
`, b.KeyName, b.TSIGSecret, b.dir, b.Port)
	for _, z := range b.Zones {
		transfer := fmt.Sprintf(`key "%s";`, b.KeyName)
		if slices.Contains(refuseTransfers, z) {
			transfer = "none;"
		}
		conf += fmt.Sprintf(`zone "%[1]s" { type primary; file "%[2]s/%[1]s.zone";
  allow-update { key "%[3]s"; }; allow-transfer { %[4]s }; };
`, z, b.dir, b.KeyName, transfer)
	}
	return os.WriteFile(filepath.Join(b.dir, "named.conf"), []byte(conf), 0o644)
}

// Reload makes named read named.conf again (SIGHUP).
func (b *Bind) Reload() error { return syscall.Kill(b.Pid(), syscall.SIGHUP) }

// Restart starts named (again, after Kill) and waits until it answers.
func (b *Bind) Restart() error {
	p, err := Start(b.logDir, "named", nil, "named", b.args...)
	if err != nil {
		return err
	}
	b.Proc = p
	return WaitFor(30*time.Second, "BIND9 to answer", func() error {
		if p.Exited() {
			return fmt.Errorf("named exited:\n%s", p.Tail(20))
		}
		_, err := Lookup(b.Addr, "unmanaged."+b.Zones[0], "A")
		return err
	})
}
