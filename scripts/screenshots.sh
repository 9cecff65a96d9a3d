#!/usr/bin/env bash
# Starts the real workbench under Xvfb (Mesa's software rendering) and
# writes one screenshot per panel, so anyone can see what a user sees.
# A tiny pipeline is run first (a few minutes) so that the Runs and
# Frontier panels have something to show.
#
#   scripts/screenshots.sh [OUT_DIR]        (default: screenshots/)
#
# Needs xvfb-run and imagemagick's `import` (Debian: xvfb, imagemagick).
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(realpath -m "${1:-screenshots}")"
mkdir -p "$out"
source scripts/fresh-workbench.sh xvfb-run import

"$bin" pipeline --arch resnet18 --blocks 1,1,1,1 --width 8 --epochs 4 --batch 64 \
  --subset 1000 --test-subset 500 --schedule cosine --lr 0.05 --backend flex >/dev/null

shoot() {
  local panel="$1"
  xvfb-run -a -s "-screen 0 1280x800x24" bash -c '
    "$0" --panel "$1" & app=$!
    sleep 8
    import -window root "$2"
    kill $app; wait $app 2>/dev/null || true
  ' "$bin" "$panel" "$out/$panel.png"
  echo "wrote $out/$panel.png"
}
for panel in plugins network data runs frontier export; do
  shoot "$panel"
done
