package kubetest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// ServiceCIDR is the service cluster IP range the test apiserver allocates
// from. Nothing routes to it: it only fills Service objects.
const ServiceCIDR = "10.96.0.0/16"

// AdminUser is the user name behind Cluster's admin token; it is in
// system:masters, so RBAC lets it do anything.
const AdminUser = "kubetest-admin"

// apiserverArgs returns the flags for a minimal kube-apiserver on loopback:
// static token authentication, RBAC, and nothing that reaches off the host.
func apiserverArgs(dir, etcdURL string, port int, keys *pki, tokenFile string) []string {
	return []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + filepath.Join(dir, "apiserver-certs"),
		"--tls-cert-file=" + keys.servingCert,
		"--tls-private-key-file=" + keys.servingKey,
		"--client-ca-file=" + keys.caFile,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + keys.saPublic,
		"--service-account-signing-key-file=" + keys.saPrivate,
		"--token-auth-file=" + tokenFile,
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=" + ServiceCIDR,
		// A loopback address may not be a Service endpoint, so do not try to
		// publish this apiserver as the "kubernetes" Service's endpoint.
		"--endpoint-reconciler-type=none",
		// Real clusters allow privileged pods; the podfwd DaemonSet is
		// validated against the same rules it meets in production.
		"--allow-privileged=true",
		"--profiling=false",
		"--v=1",
	}
}

// writeTokenFile writes the static token file with one admin token.
func writeTokenFile(dir, token string) (string, error) {
	path := filepath.Join(dir, "tokens.csv")
	line := fmt.Sprintf("%s,%s,%s-uid,\"system:masters\"\n", token, AdminUser, AdminUser)
	if err := os.WriteFile(path, []byte(line), 0o600); err != nil {
		return "", fmt.Errorf("kubetest: %w", err)
	}
	return path, nil
}

// httpsClient trusts only the test CA.
func httpsClient(caPEM []byte) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			DisableKeepAlives: true,
		},
	}
}

// waitAPIServerReady waits for /readyz to answer "ok"; that includes the
// post-start hooks (RBAC bootstrap roles, system priority classes).
func waitAPIServerReady(ctx context.Context, p *process, caPEM []byte, host, token string) error {
	return waitHealthy(ctx, p, httpsClient(caPEM), host+"/readyz", token, "ok")
}
