// Command mkimage writes podfwd's container image as an OCI image layout
// in a tar archive (what `ctr images import`, `podman load` and `skopeo
// copy oci-archive:` read), without a Docker engine or a registry: one
// layer holding the static binary at /podfwd on an empty base, the
// Dockerfile's entrypoint and user, and a version label. The same binary
// and flags give the same bytes: every timestamp is fixed and every list
// sorted. `make image` builds the binary and runs this.
//
// It lives outside cmd/ so the shipped binary never links it.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
)

func main() {
	binary := flag.String("binary", "", "the static podfwd binary to put at /podfwd")
	version := flag.String("version", "devel", "the image's version label and tag")
	revision := flag.String("revision", "", "the source revision label (optional)")
	name := flag.String("name", "docker.io/podfwd/podfwd", "the image name the tag is given to")
	arch := flag.String("arch", runtime.GOARCH, "the architecture the binary was built for")
	out := flag.String("o", "podfwd-image.tar", "the OCI layout archive to write")
	flag.Parse()
	if *binary == "" {
		fmt.Fprintln(os.Stderr, "mkimage: -binary is required")
		os.Exit(2)
	}
	bin, err := os.ReadFile(*binary)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
	img := Image{Binary: bin, Version: *version, Revision: *revision, Name: *name, Arch: *arch}
	archive, digest, err := img.Archive()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, archive, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
	fmt.Printf("%s: %s:%s manifest %s\n", *out, *name, *version, digest)
}
