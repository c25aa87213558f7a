#!/usr/bin/env bash
# Where a 64-byte packet's time goes, per mode: runs one udp64 flood with
# `podfwd bench`, and while it runs counts the daemons' system calls,
# context switches and CPU time (perf stat), and takes a system-wide call
# graph profile (perf record) and each daemon's Go CPU profile. Prints
# per-packet numbers; leaves the profiles in $OUT. Root; run it alone.
#
#   scripts/stages.sh xdp/vxlan [tun/vxlan ...]
set -euo pipefail
BIN=${BIN:-./bin/podfwd}
OUT=${OUT:-/tmp/podfwd-stages}
SECS=${SECS:-4}
mkdir -p "$OUT"
# The daemons run through this wrapper so that each writes a Go CPU
# profile until it exits.
wrap="$OUT/podfwd-prof"
cat > "$wrap" <<W
#!/bin/sh
if [ "\$1" = run ]; then shift; exec $(readlink -f "$BIN") run --cpuprofile "$OUT/\$\$.pprof" "\$@"; fi
exec $(readlink -f "$BIN") "\$@"
W
chmod +x "$wrap"
for mode in "$@"; do
  tag=${mode//\//-}
  rm -f "$OUT"/*.pprof
  "$BIN" bench --podfwd "$wrap" --modes "$mode" --tests udp64 --runs 1 --duration $((SECS + 6))s --json "$OUT/$tag.json" > "$OUT/$tag.txt" 2>&1 &
  bench=$!
  for _ in $(seq 100); do grep -q "udp64 run" "$OUT/$tag.txt" 2>/dev/null && break; sleep 0.2; done
  sleep 2
  pids=$(pgrep -f "podfwd run --cpuprofile" | paste -sd, || true)
  if [ -n "$pids" ]; then
    perf stat -x, -e raw_syscalls:sys_enter,context-switches,task-clock -p "$pids" -- sleep "$SECS" 2> "$OUT/$tag.stat" || true
  fi
  perf record -q -a -g -o "$OUT/$tag.perf" -- sleep 2 2>/dev/null || true
  wait $bench || true
  go tool pprof -top -nodecount=25 "$BIN" "$OUT"/*.pprof > "$OUT/$tag.pprof.txt" 2>/dev/null || true
  pps=$(python3 -c "import json;d=json.load(open('$OUT/$tag.json'));print(int(d['rows'][0]['pps']))" 2>/dev/null || echo 0)
  python3 - "$OUT/$tag.stat" "$pps" "$SECS" "$mode" <<'P'
import sys
stat, pps, secs, mode = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
v = {}
for line in open(stat):
    f = line.strip().split(',')
    if len(f) > 2 and f[0].replace('.', '', 1).isdigit():
        v[f[2]] = float(f[0])
pkts = pps * secs
if pkts:
    print(f"{mode}: delivered {pps/1e3:.0f}k pps; per delivered packet, both daemons: "
          f"{v.get('raw_syscalls:sys_enter',0)/pkts:.3f} syscalls, {v.get('context-switches',0)/pkts:.4f} context switches, "
          f"{v.get('task-clock',0)*1e6/pkts:.0f} ns CPU")
P
done
