package main

import (
	"bytes"
	"strings"
	"testing"
)

// A stream as `go test -json` writes it: one passing test with a log line,
// two skips (one for a tool, one opt-in) and a failure.
const stream = `{"Action":"start","Package":"x"}
{"Action":"run","Package":"x","Test":"TestA"}
{"Action":"output","Package":"x","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"output","Package":"x","Test":"TestA","Output":"    x_test.go:3: chatter\n"}
{"Action":"pass","Package":"x","Test":"TestA"}
{"Action":"output","Package":"x","Test":"TestB","Output":"    x_test.go:4: tshark not installed\n"}
{"Action":"output","Package":"x","Test":"TestB","Output":"--- SKIP: TestB (0.00s)\n"}
{"Action":"skip","Package":"x","Test":"TestB"}
{"Action":"output","Package":"x","Test":"TestR","Output":"    x.go:9: testenv: missing requirement: TestR needs root: why\n"}
{"Action":"skip","Package":"x","Test":"TestR"}
{"Action":"output","Package":"x","Test":"TestC","Output":"    x_test.go:5: set PODFWD_X=1 to run the measurement\n"}
{"Action":"skip","Package":"x","Test":"TestC"}
{"Action":"output","Package":"x","Test":"TestD","Output":"    x_test.go:6: boom\n"}
{"Action":"fail","Package":"x","Test":"TestD"}
{"Action":"output","Package":"x","Test":"TestHang","Output":"    x_test.go:9: still waiting\n"}
{"Action":"output","Package":"x","Output":"FAIL\tx\t0.007s\n"}
{"Action":"fail","Package":"x"}
go: a line that is not JSON
`

func TestFilterKeepsFailuresAndNamesToolSkips(t *testing.T) {
	var out bytes.Buffer
	bad, err := filter(strings.NewReader(stream), &out)
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) != 2 || !strings.HasPrefix(bad[0], "x TestB: ") || !strings.HasPrefix(bad[1], "x TestR: ") {
		t.Errorf("skips for root or a tool: %q, want TestB and TestR only", bad)
	}
	o := out.String()
	for _, want := range []string{"boom", "FAIL\tx", "tshark not installed", "set PODFWD_X=1", "a line that is not JSON", "still waiting"} {
		if !strings.Contains(o, want) {
			t.Errorf("output lacks %q:\n%s", want, o)
		}
	}
	if strings.Contains(o, "chatter") || strings.Contains(o, "=== RUN") {
		t.Errorf("output keeps a passing test's log:\n%s", o)
	}
}
