#!/usr/bin/env bash
# For someone with a GPU, once: builds the workbench, runs its wgpu tests on
# the GPU, times training steps on wgpu next to PyTorch on the same device
# (CUDA on an NVIDIA GPU, else the CPU), and writes everything to one JSON
# report to send back.
#
#   bash bench/gpu-check.sh                 # -> gpu-check.json
#   bash bench/gpu-check.sh --smoke --out /tmp/report.json
#
# --smoke: one small configuration and one round (a CPU adapter such as
# lavapipe, where the full bench takes hours). Needs cargo, python3 and, on
# an NVIDIA GPU, network access for bench/setup-torch.sh --cuda (~3 GB).
set -euo pipefail
cd "$(dirname "$0")/.."

out=gpu-check.json
configs=64x32,64x128,16x128
rounds=3
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) configs=16x32; rounds=1 ;;
    --out) out="$2"; shift ;;
    *) echo "usage: bash bench/gpu-check.sh [--smoke] [--out FILE]" >&2; exit 2 ;;
  esac
  shift
done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
say() { echo "gpu-check: $*" >&2; }

say "building"
# --all-targets: the build the tests then use (README: one build of burn).
cargo build --workspace --all-targets 2>"$work/build.log" || { cat "$work/build.log" >&2; exit 1; }
target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"

if command -v nvidia-smi >/dev/null && nvidia-smi >"$work/nvidia-smi.txt" 2>&1; then
  say "NVIDIA GPU found: PyTorch with CUDA"
  python="$(bash bench/setup-torch.sh --cuda | tail -n 1)"
else
  : >"$work/nvidia-smi.txt"
  python="$(bash bench/setup-torch.sh | tail -n 1)"
fi

say "wgpu tests"
tests_status=0
cargo test --workspace --test wgpu_backend >"$work/tests.log" 2>&1 || tests_status=$?

say "bench (configurations $configs, $rounds rounds)"
bench_status=0
"$target/debug/deepreduce" bench --backend wgpu --steps 5 --rounds "$rounds" \
  --configs "$configs" --python "$python" >"$work/bench.log" 2>"$work/bench.err" || bench_status=$?

python3 - "$work" "$tests_status" "$bench_status" "$out" <<'PY'
import json, os, platform, subprocess, sys, datetime
work, tests_status, bench_status, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
read = lambda name: open(os.path.join(work, name), errors="replace").read()
bench = read("bench.log").splitlines()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), None)
tests = read("tests.log")
report = {
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
    "machine": {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release()},
    "nvidia_smi": read("nvidia-smi.txt") or None,
    "backend": next((l[len("backend: "):] for l in bench if l.startswith("backend: ")), None),
    "pytorch": next((l for l in bench if l.startswith("PyTorch")), None),
    "wgpu_tests": {
        "passed": tests_status == 0,
        "summary": [l for l in tests.splitlines() if l.startswith("test result:")],
        "log_tail": tests.splitlines()[-40:] if tests_status else [],
    },
    "bench": {
        "exit_status": bench_status,
        "configurations": [json.loads(l) for l in bench if l.startswith("{")],
        "lines": [l.strip() for l in bench if l.startswith("  width")],
        "stderr_tail": read("bench.err").splitlines()[-20:],
    },
}
with open(out, "w") as f:
    json.dump(report, f, indent=2)
print(f"gpu-check: report written to {out}", file=sys.stderr)
sys.exit(1 if tests_status or bench_status else 0)
PY
