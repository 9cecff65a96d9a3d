# Sourced by the scripts that drive the real window: checks the tools they
# need, builds everything, and sets up a fresh user (no saved settings, no
# user plugins, a run store of its own, removed on exit).
# Sets: bin (the deepreduce binary), home (the fresh user's folder).
#
#   source scripts/fresh-workbench.sh TOOL...

for tool in "$@"; do
  command -v "$tool" >/dev/null || { echo "needs $tool (Debian: xvfb, imagemagick, xdotool)" >&2; exit 1; }
done
cargo build --workspace
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
bin="$target_dir/debug/deepreduce"

home="$(mktemp -d)"
trap 'rm -rf "$home"' EXIT
export HOME="$home" XDG_DATA_HOME="$home/data" XDG_CONFIG_HOME="$home/config"
export DEEPREDUCE_DB="$home/runs.db" DEEPREDUCE_PLUGIN_DIR="$home/plugins"
