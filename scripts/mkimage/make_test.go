package main

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestMakeImage runs `make image` twice into two directories: the archives
// must be byte for byte the same, and the binary inside static (no
// interpreter, no shared libraries), as an empty base image needs.
func TestMakeImage(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatalf("make is missing: %v", err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var archives [2][]byte
	for i := range archives {
		dir := t.TempDir()
		cmd := exec.Command("make", "-C", root, "image", "IMAGE_OUT="+dir, "VERSION=test", "REVISION=test")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make image: %v\n%s", err, out)
		}
		if archives[i], err = os.ReadFile(filepath.Join(dir, "podfwd-image.tar")); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			checkStatic(t, filepath.Join(dir, "image", "podfwd"))
		}
	}
	if !bytes.Equal(archives[0], archives[1]) {
		t.Fatal("two `make image` runs of the same tree gave different archives")
	}
}

func checkStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has an ELF interpreter: not static", path)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s needs shared libraries %v: not static", path, libs)
	}
}
