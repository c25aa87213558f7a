// Command etcd is etcd's own server entry point, rebuilt here because the
// module that holds etcd's upstream main package (go.etcd.io/etcd/v3) is not
// served at the version we pin, while go.etcd.io/etcd/server/v3 is. It does
// nothing but hand the arguments to etcdmain, exactly as upstream's main does.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
