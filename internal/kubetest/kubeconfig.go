package kubetest

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
)

// writeKubeconfig writes a kubeconfig for kubectl with the admin token. It is
// written by hand (not with client-go's clientcmd) to keep this package's
// dependencies to rest and the typed clientset.
func writeKubeconfig(dir, host string, caPEM []byte, token string) (string, error) {
	const tmpl = `apiVersion: v1
kind: Config
clusters:
- name: kubetest
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: admin
  user:
    token: %s
contexts:
- name: kubetest
  context:
    cluster: kubetest
    user: admin
current-context: kubetest
`
	path := filepath.Join(dir, "kubeconfig")
	data := fmt.Sprintf(tmpl, host, base64.StdEncoding.EncodeToString(caPEM), token)
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		return "", fmt.Errorf("kubetest: %w", err)
	}
	return path, nil
}
