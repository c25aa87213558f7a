#!/usr/bin/env bash
# Runs every Fuzz target of the module for TIME each (default 10m) and
# prints per target the corpus size and the executions per second go test
# reported. JOBS targets run at once (default 1), each with PARALLEL fuzz
# workers (default: go test's, one per CPU; set PARALLEL=1 with JOBS>1 so
# the targets share the cores instead of fighting for them). A crasher
# fails its target with go test's output; its input is left in the
# package's testdata/fuzz for a seed, and the run exits non-zero after the
# other targets finish.
#
#   TIME=10m JOBS=4 PARALLEL=1 scripts/fuzz-all.sh [package pattern, default ./...]
set -euo pipefail
TIME=${TIME:-10m}
GO=${GO:-go}
JOBS=${JOBS:-1}
PARALLEL=${PARALLEL:-}
pattern=${1:-./...}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# one "pkg dir target" line per target
for pkg in $($GO list "$pattern"); do
  dir=$($GO list -f '{{.Dir}}' "$pkg")
  for target in $($GO test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "$pkg $dir $target"
  done
done > "$work/targets"
echo "fuzz-all: $(wc -l < "$work/targets") targets, TIME=$TIME JOBS=$JOBS PARALLEL=${PARALLEL:-default}"

# fuzz_one pkg dir target: runs one target, appends its summary line, and
# leaves a FAIL marker for a crasher.
fuzz_one() {
  local pkg=$1 dir=$2 target=$3 log
  log="$work/$(echo "$pkg.$target" | tr '/' '_').log"
  local par=()
  [ -n "$PARALLEL" ] && par=(-parallel "$PARALLEL")
  echo "== start $pkg $target $(date -u +%H:%M:%S)"
  if ! (cd "$dir" && $GO test -run '^$' -fuzz "^${target}\$" -fuzztime "$TIME" "${par[@]}" . > "$log" 2>&1); then
    echo "fuzz-all: $pkg $target FAILED; the crasher is under $dir/testdata/fuzz/$target" >&2
    tail -30 "$log" >&2
    echo "$pkg $target FAILED" >> "$work/summary"
    touch "$work/failed"
    return 0
  fi
  local last corpus
  last=$(grep -E 'fuzz: elapsed' "$log" | tail -1 | sed 's/^.*fuzz: //' || true)
  # go test's per-line rate is the last interval's; the average is
  # total execs over elapsed time (elapsed prints as 10m0s, 3s, 1h0m0s).
  local avg
  avg=$(echo "$last" | awk '{
    e = $2; sub(",", "", e); s = 0
    if (match(e, /[0-9]+h/)) s += 3600 * substr(e, RSTART, RLENGTH - 1)
    if (match(e, /[0-9]+m/)) s += 60 * substr(e, RSTART, RLENGTH - 1)
    if (match(e, /[0-9.]+s/)) s += substr(e, RSTART, RLENGTH - 1)
    n = $4; if (s > 0) printf "%d/sec average", n / s }')
  last="$last, $avg"
  corpus=$( (ls "$dir/testdata/fuzz/$target" 2>/dev/null || true) | wc -l)
  echo "$pkg $target committed-seeds=$corpus | $last" >> "$work/summary"
  echo "== done  $pkg $target $(date -u +%H:%M:%S): $last"
}
export -f fuzz_one
export GO TIME PARALLEL work

xargs -P "$JOBS" -L 1 bash -c 'fuzz_one "$@"' _ < "$work/targets"

echo
echo "fuzz-all summary (TIME=$TIME JOBS=$JOBS PARALLEL=${PARALLEL:-default}):"
sort "$work/summary"
[ ! -e "$work/failed" ]
