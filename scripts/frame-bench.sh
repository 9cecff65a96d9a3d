#!/usr/bin/env bash
# UI frame time of the real workbench window while a training runs on a
# worker: starts the window under Xvfb (Mesa's software rendering), clicks
# "Train this network" on the Runs panel (full-width ResNet18 on the
# built-in data, every core busy), and prints p50/p99 of eframe's per-frame
# CPU time (UI, tessellation, painting) against the 16 ms target.
#
#   scripts/frame-bench.sh [SECONDS]      (default 40 s of training)
#
# Needs xvfb-run and xdotool (Debian: xvfb, xdotool).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-40}"
source scripts/fresh-workbench.sh xvfb-run xdotool
log="$home/frames.log"

xvfb-run -a -s "-screen 0 1280x800x24" bash -c '
  DEEPREDUCE_FRAME_LOG="$1" "$0" --panel runs & app=$!
  sleep 8
  # "Train this network" on a fresh 1280x800 window.
  xdotool mousemove 76 304 click 1
  sleep 2
  wc -l < "$1" > "$1.start"   # frames after this line: drawn while training
  sleep "$2"
  kill $app; wait $app 2>/dev/null || true
' "$bin" "$log" "$seconds"

python3 - "$log" "$DEEPREDUCE_DB" <<'PY'
import sqlite3, sys
start = int(open(sys.argv[1] + ".start").read())
lines = open(sys.argv[1]).read().splitlines()[start:]
times = sorted(float(l) * 1e3 for l in lines if l.strip())
runs = sqlite3.connect(sys.argv[2]).execute("select count(*) from runs").fetchone()[0]
if runs == 0 or len(times) < 20:
    sys.exit(f"training did not start or too few frames ({len(times)}): was the button where expected?")
p = lambda q: times[min(len(times) - 1, round(q * (len(times) - 1)))]
print(f"frames while training: {len(times)}; p50 {p(0.5):.2f} ms, p99 {p(0.99):.2f} ms, "
      f"max {times[-1]:.2f} ms; target 16 ms, p99/target {p(0.99) / 16:.2f}")
PY
