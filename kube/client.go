package kube

import (
	"context"
	"fmt"
	"net"

	"github.com/podfwd/podfwd/config"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// RESTConfig builds the API client config that k describes: the
// kubeconfig file, or the in-cluster config (the pod's ServiceAccount)
// when k names none; with k.Socket, every connection dials that unix
// socket instead of the host, while TLS still verifies the host's name.
func RESTConfig(k config.Kubernetes) (*rest.Config, error) {
	var (
		cfg *rest.Config
		err error
	)
	if k.Kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", k.Kubeconfig)
	} else {
		cfg, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: kubernetes: %w", config.ErrConfig, err)
	}
	cfg.UserAgent = "podfwd"
	if k.Socket != "" {
		path := k.Socket
		var d net.Dialer
		cfg.Dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", path)
		}
	}
	return cfg, nil
}

// NewClient is a clientset for RESTConfig(k).
func NewClient(k config.Kubernetes) (kubernetes.Interface, error) {
	cfg, err := RESTConfig(k)
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: kubernetes: %w", config.ErrConfig, err)
	}
	return cs, nil
}
