#!/usr/bin/env bash
# Runs every Fuzz target of the module, one after the other, for TIME each
# (default 10m), and prints per target the corpus size and the executions
# per second go test reported. A crasher stops the run with go test's
# failure; its input is left in the package's testdata/fuzz for a seed.
#
#   TIME=10m scripts/fuzz-all.sh [package pattern, default ./...]
set -euo pipefail
TIME=${TIME:-10m}
GO=${GO:-go}
pattern=${1:-./...}
summary=$(mktemp)
trap 'rm -f "$summary"' EXIT
for pkg in $($GO list "$pattern"); do
  dir=$($GO list -f '{{.Dir}}' "$pkg")
  for target in $($GO test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "== $pkg $target ($TIME)"
    log=$(mktemp)
    if ! (cd "$dir" && $GO test -run '^$' -fuzz "^${target}\$" -fuzztime "$TIME" . 2>&1 | tee "$log" | tail -3); then
      echo "fuzz-all: $pkg $target failed; the crasher is under $dir/testdata/fuzz/$target" >&2
      rm -f "$log"
      exit 1
    fi
    last=$(grep -E 'fuzz: elapsed' "$log" | tail -1 || true)
    corpus=$( (ls "$dir/testdata/fuzz/$target" 2>/dev/null || true) | wc -l)
    echo "$pkg $target seeds=$corpus | $last" >> "$summary"
    rm -f "$log"
  done
done
echo
echo "fuzz-all summary (TIME=$TIME):"
cat "$summary"
