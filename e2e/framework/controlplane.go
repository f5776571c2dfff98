package framework

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// EtcdBinary is the name of the etcd hack/build-tools.sh builds, in the
// directory of the API server's binary.
const EtcdBinary = "etcd-v3.6.16"

// ControlPlane is one cluster's etcd and kube-apiserver, on loopback.
type ControlPlane struct {
	Etcd, APIServer *Proc
	// The API server's command, to start it again after a fault.
	apiServerArgs   []string
	apiServerBinary string
	dir             string
	etcdData        string // removed at Stop when it is in memory
	// APIAddr is host:port of the API server; EtcdURL etcd's client URL.
	APIAddr         string
	EtcdURL         string
	AdminKubeconfig string
	// Client is the admin's.
	Client *kubernetes.Clientset
}

// Stop ends the cluster's processes.
func (cp *ControlPlane) Stop() {
	cp.APIServer.Stop()
	cp.Etcd.Stop()
	if strings.HasPrefix(cp.etcdData, memoryDir) {
		os.RemoveAll(cp.etcdData)
	}
}

// memoryDir is a tmpfs most Linux machines have. etcd fsyncs every write,
// which on this VM's disk makes the API server take ~120 writes a second;
// in memory the benchmarks' create storms measure lbdns and the API server,
// not the disk.
const memoryDir = "/dev/shm"

// etcdDataDir is a fresh directory in memory when the tmpfs has room for
// etcd's preallocated WAL and a large benchmark (4 GiB free; a container's
// default 64 MiB /dev/shm has not), else dir/etcd.
func etcdDataDir(dir string) string {
	var st syscall.Statfs_t
	if syscall.Statfs(memoryDir, &st) == nil && st.Bavail*uint64(st.Bsize) >= 4<<30 {
		if d, err := os.MkdirTemp(memoryDir, "lbdns-e2e-etcd-"); err == nil {
			return d
		}
	}
	return filepath.Join(dir, "etcd")
}

// StartControlPlane starts an etcd and a kube-apiserver (the binary at
// apiserverBin) with RBAC, whose files and logs go under dir/name (name ""
// is dir itself). tokens are more lines of the static token file
// (token,user,uid[,groups]) beside the admin's.
func StartControlPlane(dir, apiserverBin, name string, tokens ...string) (*ControlPlane, error) {
	cp := &ControlPlane{apiServerBinary: apiserverBin}
	if name != "" {
		dir = filepath.Join(dir, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return cp, err
		}
	}
	cp.dir = dir
	ports := make([]int, 3) // etcd client, etcd peer, API server
	for i := range ports {
		var err error
		if ports[i], err = FreePort(); err != nil {
			return cp, err
		}
	}
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	cp.EtcdURL = etcdURL
	var err error
	cp.etcdData = etcdDataDir(dir)
	// hack/build-tools.sh builds etcd beside the API server.
	etcdBin := filepath.Join(filepath.Dir(apiserverBin), EtcdBinary)
	cp.Etcd, err = Start(dir, "etcd", nil, etcdBin, "--data-dir", cp.etcdData,
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", ports[1]))
	if err != nil {
		return cp, err
	}
	keyFile := filepath.Join(dir, "sa.key")
	if err := writeRSAKey(keyFile); err != nil {
		return cp, err
	}
	const adminToken = "e2e-admin-token"
	tokenFile := filepath.Join(dir, "tokens.csv")
	lines := adminToken + ",admin,admin,system:masters\n"
	for _, t := range tokens {
		lines += t + "\n"
	}
	if err := os.WriteFile(tokenFile, []byte(lines), 0o600); err != nil {
		return cp, err
	}
	// A /12 of ClusterIPs: room for make scalebench's 100,000 LoadBalancer
	// Services, each of which takes one.
	cp.apiServerArgs = []string{"--etcd-servers=" + etcdURL, "--cert-dir=" + filepath.Join(dir, "certs"),
		fmt.Sprintf("--secure-port=%d", ports[2]), "--bind-address=127.0.0.1",
		"--token-auth-file=" + tokenFile, "--service-account-key-file=" + keyFile,
		"--service-account-signing-key-file=" + keyFile, "--service-account-issuer=https://kubernetes.default.svc",
		"--authorization-mode=RBAC", "--service-cluster-ip-range=10.96.0.0/12"}
	if cp.APIServer, err = Start(dir, "kube-apiserver", nil, apiserverBin, cp.apiServerArgs...); err != nil {
		return cp, err
	}
	cp.APIAddr = fmt.Sprintf("127.0.0.1:%d", ports[2])
	cp.AdminKubeconfig = filepath.Join(dir, "admin.kubeconfig")
	if err := WriteKubeconfig(cp.AdminKubeconfig, "https://"+cp.APIAddr, "admin", adminToken); err != nil {
		return cp, err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", cp.AdminKubeconfig)
	if err != nil {
		return cp, err
	}
	cfg.QPS, cfg.Burst = 500, 1000
	if cp.Client, err = kubernetes.NewForConfig(cfg); err != nil {
		return cp, err
	}
	return cp, cp.WaitReady()
}

// RestartAPIServer starts the API server again, as before, after it was
// killed; it does not wait until it is ready.
func (cp *ControlPlane) RestartAPIServer() error {
	p, err := Start(cp.dir, "kube-apiserver", nil, cp.apiServerBinary, cp.apiServerArgs...)
	if err != nil {
		return err
	}
	cp.APIServer = p
	return nil
}

// WaitReady waits until the API server answers /readyz.
func (cp *ControlPlane) WaitReady() error {
	return WaitFor(60*time.Second, "kube-apiserver /readyz", func() error {
		if cp.APIServer.Exited() {
			return fmt.Errorf("kube-apiserver exited:\n%s", cp.APIServer.Tail(20))
		}
		_, err := cp.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(context.Background())
		return err
	})
}

// WriteTokenKubeconfig writes to path a kubeconfig of server with a token of
// the ServiceAccount lbdns/<sa> that client mints.
func WriteTokenKubeconfig(ctx context.Context, client kubernetes.Interface, server, sa, path string) error {
	expiry := int64(24 * 3600)
	var tok *authv1.TokenRequest
	err := WaitFor(30*time.Second, "a token for ServiceAccount lbdns/"+sa, func() error {
		var err error
		tok, err = client.CoreV1().ServiceAccounts("lbdns").CreateToken(ctx, sa,
			&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return err
	}
	return WriteKubeconfig(path, server, sa, tok.Status.Token)
}

// WriteKubeconfig writes a kubeconfig of server (TLS not verified) for user
// with a bearer token.
func WriteKubeconfig(path, server, user, token string) error {
	return os.WriteFile(path, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: local, cluster: {server: %q, insecure-skip-tls-verify: true}}]
users: [{name: %s, user: {token: %q}}]
contexts: [{name: local, context: {cluster: local, user: %s}}]
current-context: local
`, server, user, token, user)), 0o600)
}

func writeRSAKey(path string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
}
