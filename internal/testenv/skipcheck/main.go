// Command skipcheck reads `go test -json` on stdin and prints it as
// `go test` without -v would (package results, and the output of failed
// tests), plus every skipped test with its reason. Under CI (see
// testenv.InCI) it exits 1 when a test was skipped for want of root or a
// tool: the helpers in testenv fail such tests under CI, so a skip that
// names one came from a test that bypassed them, and a green run would lie.
//
//	go test -json ./... 2>&1 | go run ./internal/testenv/skipcheck
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"github.com/podfwd/podfwd/internal/testenv"
)

func main() {
	bad, err := filter(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "skipcheck:", err)
		os.Exit(2)
	}
	if len(bad) > 0 && testenv.InCI() {
		fmt.Fprintf(os.Stderr, "skipcheck: CI is set, and %d test(s) skipped for want of root or a tool:\n", len(bad))
		for _, b := range bad {
			fmt.Fprintln(os.Stderr, "  "+b)
		}
		os.Exit(1)
	}
}

func filter(in io.Reader, out io.Writer) ([]string, error) {
	f := newFilterer(out)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		f.line(sc.Bytes())
	}
	return f.bad, sc.Err()
}
