package main

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/podfwd/podfwd/internal/testenv"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// needWords are the reasons a skip must not have under CI: root, or a
// program the tests run. testenv.SkipMarker covers the helpers' own
// messages; the words catch a test that skips by hand.
var needWords = regexp.MustCompile(`(?i)` + regexp.QuoteMeta(testenv.SkipMarker) +
	`|\broot\b|\btshark\b|\btcpdump\b|\biperf3\b|\bethtool\b|kube-apiserver|\betcd\b|\bkubectl\b|\bCNI plugins\b|not installed`)

type filterer struct {
	out  io.Writer
	logs map[string][]string // output of each running test, by package and name
	bad  []string
}

func newFilterer(out io.Writer) *filterer {
	return &filterer{out: out, logs: map[string][]string{}}
}

func (f *filterer) line(b []byte) {
	var e event
	if len(b) == 0 || b[0] != '{' || json.Unmarshal(b, &e) != nil {
		fmt.Fprintln(f.out, string(b)) // not an event: the go command's own words
		return
	}
	key := e.Package + " " + e.Test
	switch {
	case e.Action == "build-output":
		fmt.Fprint(f.out, e.Output)
	case e.Test == "" && e.Action == "output":
		// Package-level lines: keep the summary and failures, drop the
		// verbose-mode noise -json turns on.
		if o := strings.TrimSpace(e.Output); o != "PASS" && !strings.HasPrefix(e.Output, "=== ") {
			fmt.Fprint(f.out, e.Output)
		}
	case e.Action == "output":
		f.logs[key] = append(f.logs[key], e.Output)
	case e.Action == "fail" && e.Test == "":
		// The package failed with tests still running (a timeout, a
		// panic): their output is what explains it.
		for k, lines := range f.logs {
			if strings.HasPrefix(k, e.Package+" ") {
				for _, o := range lines {
					fmt.Fprint(f.out, o)
				}
				delete(f.logs, k)
			}
		}
	case e.Action == "fail":
		for _, o := range f.logs[key] {
			fmt.Fprint(f.out, o)
		}
		delete(f.logs, key)
	case e.Action == "skip":
		reason := ""
		for _, o := range f.logs[key] {
			if !strings.HasPrefix(o, "=== ") {
				fmt.Fprint(f.out, o)
				if !strings.Contains(o, "--- SKIP") {
					reason += o
				}
			}
		}
		if needWords.MatchString(reason) {
			f.bad = append(f.bad, e.Package+" "+e.Test+": "+strings.Join(strings.Fields(reason), " "))
		}
		delete(f.logs, key)
	case e.Action == "pass":
		delete(f.logs, key)
	}
}
