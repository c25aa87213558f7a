package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// OCI media types (image-spec v1.1).
const (
	mediaIndex    = "application/vnd.oci.image.index.v1+json"
	mediaManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaConfig   = "application/vnd.oci.image.config.v1+json"
	mediaLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
)

// epoch is every timestamp in the image: the bytes depend on the inputs
// only, never on when they were built.
var epoch = time.Unix(0, 0).UTC()

// Image is what goes into the image.
type Image struct {
	Binary   []byte // the static podfwd binary, /podfwd
	Version  string // label org.opencontainers.image.version and the tag
	Revision string // label org.opencontainers.image.revision; may be empty
	Name     string // repository the tag belongs to, e.g. docker.io/podfwd/podfwd
	Arch     string // GOARCH of Binary
}

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int               `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type blob struct {
	data   []byte
	digest string
}

func newBlob(data []byte) blob {
	sum := sha256.Sum256(data)
	return blob{data: data, digest: "sha256:" + hex.EncodeToString(sum[:])}
}

func (b blob) descriptor(mediaType string) descriptor {
	return descriptor{MediaType: mediaType, Digest: b.digest, Size: len(b.data)}
}

// Archive returns the OCI layout as a tar archive and the manifest's
// digest.
func (img Image) Archive() ([]byte, string, error) {
	if len(img.Binary) == 0 || img.Version == "" || img.Name == "" || img.Arch == "" {
		return nil, "", errors.New("image: binary, version, name and arch are required")
	}
	layerTar, err := tarOf([]file{{name: "podfwd", mode: 0o755, data: img.Binary}})
	if err != nil {
		return nil, "", err
	}
	diffID := newBlob(layerTar).digest
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression) // a valid level never fails
	if _, err := zw.Write(layerTar); err != nil {
		return nil, "", err
	}
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	layer := newBlob(gz.Bytes())

	labels := map[string]string{
		"org.opencontainers.image.title":   "podfwd",
		"org.opencontainers.image.version": img.Version,
	}
	if img.Revision != "" {
		labels["org.opencontainers.image.revision"] = img.Revision
	}
	config, err := json.Marshal(map[string]any{
		"created":      epoch.Format(time.RFC3339),
		"architecture": img.Arch,
		"os":           "linux",
		"config": map[string]any{
			// As deploy/Dockerfile: root inside, the DaemonSet's
			// securityContext limits the capabilities.
			"Entrypoint": []string{"/podfwd"},
			"User":       "0:0",
			"Labels":     labels,
		},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{diffID}},
		"history": []map[string]any{{
			"created":    epoch.Format(time.RFC3339),
			"created_by": "scripts/mkimage: the static podfwd binary at /podfwd",
		}},
	})
	if err != nil {
		return nil, "", err
	}
	cfg := newBlob(config)
	manifestJSON, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaManifest,
		"config":        cfg.descriptor(mediaConfig),
		"layers":        []descriptor{layer.descriptor(mediaLayer)},
		"annotations":   labels,
	})
	if err != nil {
		return nil, "", err
	}
	manifest := newBlob(manifestJSON)
	// Tagged with the version and latest, the tag deploy/'s DaemonSet
	// names, so an imported image is found without a registry.
	var tagged []descriptor
	for _, tag := range []string{img.Version, "latest"} {
		if len(tagged) > 0 && tag == img.Version {
			continue
		}
		md := manifest.descriptor(mediaManifest)
		md.Annotations = map[string]string{
			// The OCI name of the tag, and the full name containerd gives
			// the imported image.
			"org.opencontainers.image.ref.name": tag,
			"io.containerd.image.name":          img.Name + ":" + tag,
		}
		tagged = append(tagged, md)
	}
	index, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaIndex,
		"manifests":     tagged,
	})
	if err != nil {
		return nil, "", err
	}

	files := []file{
		{name: "oci-layout", mode: 0o644, data: []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{name: "index.json", mode: 0o644, data: index},
	}
	for _, b := range []blob{cfg, layer, manifest} {
		files = append(files, file{name: "blobs/sha256/" + b.digest[len("sha256:"):], mode: 0o644, data: b.data})
	}
	archive, err := tarOf(files)
	if err != nil {
		return nil, "", err
	}
	return archive, manifest.digest, nil
}

type file struct {
	name string
	mode int64
	data []byte
}

// tarOf writes files (and the directories above them) owned by root with
// fixed times, in the given order.
func tarOf(files []file) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for _, f := range files {
		for i := range len(f.name) {
			if f.name[i] != '/' || dirs[f.name[:i+1]] {
				continue
			}
			dirs[f.name[:i+1]] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: f.name[:i+1], Mode: 0o755, ModTime: epoch, Format: tar.FormatUSTAR}); err != nil {
				return nil, err
			}
		}
		h := &tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: epoch, Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("tar %s: %w", f.name, err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
