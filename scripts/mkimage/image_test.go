package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"testing"
)

func testImage() Image {
	return Image{Binary: []byte("\x7fELF not really"), Version: "v1.2.3", Revision: "abc", Name: "docker.io/podfwd/podfwd", Arch: "amd64"}
}

func TestArchiveIsReproducible(t *testing.T) {
	a, da, err := testImage().Archive()
	if err != nil {
		t.Fatal(err)
	}
	b, db, err := testImage().Archive()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) || da != db {
		t.Fatalf("two builds of the same input differ: %s vs %s", da, db)
	}
	other := testImage()
	other.Version = "v1.2.4"
	if _, dc, _ := other.Archive(); dc == da {
		t.Fatal("a different version label gave the same manifest")
	}
}

// TestArchiveLayout reads the archive as a runtime would: index ->
// manifest -> config and layer, each blob checked against its digest.
func TestArchiveLayout(t *testing.T) {
	img := testImage()
	archive, manifestDigest, err := img.Archive()
	if err != nil {
		t.Fatal(err)
	}
	files := untar(t, archive)
	if string(files["oci-layout"]) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout = %q", files["oci-layout"])
	}
	blobAt := func(d descriptor) []byte {
		t.Helper()
		data, ok := files["blobs/sha256/"+d.Digest[len("sha256:"):]]
		if !ok {
			t.Fatalf("blob %s missing", d.Digest)
		}
		if sum := sha256.Sum256(data); "sha256:"+hex.EncodeToString(sum[:]) != d.Digest || len(data) != d.Size {
			t.Fatalf("blob %s: digest or size wrong", d.Digest)
		}
		return data
	}
	var index struct{ Manifests []descriptor }
	mustJSON(t, files["index.json"], &index)
	if len(index.Manifests) != 2 || index.Manifests[0].Digest != manifestDigest || index.Manifests[1].Digest != manifestDigest ||
		index.Manifests[0].Annotations["io.containerd.image.name"] != "docker.io/podfwd/podfwd:v1.2.3" ||
		index.Manifests[1].Annotations["io.containerd.image.name"] != "docker.io/podfwd/podfwd:latest" {
		t.Fatalf("index = %+v", index)
	}
	var manifest struct {
		Config descriptor
		Layers []descriptor
	}
	mustJSON(t, blobAt(index.Manifests[0]), &manifest)
	var config struct {
		Architecture, OS string
		Config           struct {
			Entrypoint []string
			User       string
			Labels     map[string]string
		}
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		}
	}
	mustJSON(t, blobAt(manifest.Config), &config)
	if len(config.Config.Entrypoint) != 1 || config.Config.Entrypoint[0] != "/podfwd" || config.Config.User != "0:0" {
		t.Errorf("entrypoint %q user %q, want the Dockerfile's [/podfwd] and 0:0", config.Config.Entrypoint, config.Config.User)
	}
	if config.Config.Labels["org.opencontainers.image.version"] != "v1.2.3" || config.OS != "linux" || config.Architecture != "amd64" {
		t.Errorf("config = %+v", config)
	}
	if len(manifest.Layers) != 1 || manifest.Layers[0].MediaType != mediaLayer {
		t.Fatalf("layers = %+v", manifest.Layers)
	}
	zr, err := gzip.NewReader(bytes.NewReader(blobAt(manifest.Layers[0])))
	if err != nil {
		t.Fatal(err)
	}
	layerTar, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(layerTar); len(config.RootFS.DiffIDs) != 1 || config.RootFS.DiffIDs[0] != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Errorf("diff_ids %v do not match the uncompressed layer", config.RootFS.DiffIDs)
	}
	layer := untar(t, layerTar)
	if len(layer) != 1 || !bytes.Equal(layer["podfwd"], img.Binary) {
		t.Errorf("layer holds %d files; want exactly /podfwd with the binary", len(layer))
	}
}

func untar(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if h.Uid != 0 || h.Gid != 0 || h.ModTime.Unix() != 0 {
			t.Errorf("%s: owner %d:%d mtime %v; want root and the epoch", h.Name, h.Uid, h.Gid, h.ModTime)
		}
		if h.Name == "podfwd" && h.Mode != 0o755 {
			t.Errorf("/podfwd mode %o, want 755", h.Mode)
		}
		b, _ := io.ReadAll(tr)
		files[h.Name] = b
	}
}

func mustJSON(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%v in %s", err, data)
	}
}
