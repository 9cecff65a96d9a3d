#!/usr/bin/env bash
# Create (or reuse) a Python virtual environment with a CPU-usable PyTorch for
# bench/torch_train_step.py, using only PyPI.  Idempotent: re-running it on a
# working venv only re-checks it.
#
#   bash bench/setup-torch.sh            # -> ~/.cache/deepreduce/bench-venv
#   BENCH_VENV=/some/dir TORCH_VERSION=2.15.0 PYTHON=python3.11 bash bench/setup-torch.sh
#   bash bench/setup-torch.sh --cuda     # -> ~/.cache/deepreduce/bench-venv-cuda
#
# --cuda installs the ordinary CUDA build instead (`pip install torch` with
# its nvidia-* wheels, ~3 GB), for `deepreduce bench --backend wgpu` on a
# machine with an NVIDIA GPU, and checks that torch sees the GPU.
#
# Why it is done this way: PyPI only has the CUDA build of torch for Linux
# x86_64, and `pip install torch` pulls ~3 GB of nvidia-*/cuda-* wheels plus
# triton.  None of that is needed on the CPU, but torch's shared libraries (even
# libtorch_cpu.so) are linked against libcudart, libcublas, libcudnn, libnccl, ...
# so `pip install --no-deps torch` alone fails at `import torch`.  This script
# therefore installs
#   1. torch itself with --no-deps (one ~540 MB wheel for 2.15.0),
#   2. torch's pure-Python requirements, read from the installed wheel's
#      metadata (filelock, typing-extensions, setuptools, sympy, mpmath,
#      networkx, jinja2, MarkupSafe, fsspec) and numpy (to avoid torch's
#      "Failed to initialize NumPy" warning): ~30 MB,
#   3. no-op stand-ins for the missing CUDA libraries, compiled locally with cc
#      by bench/make_cuda_stubs.py into torch/lib (every function returns
#      "no device", so torch.cuda.is_available() is False and all CPU kernels,
#      MKL and oneDNN, are the stock ones),
# then checks a matmul and a conv forward/backward on the CPU.
# Needs: python3 (>= 3.10) with venv, cc and readelf (binutils).
set -euo pipefail

CUDA=0
case "${1:-}" in
  --cuda) CUDA=1 ;;
  "") ;;
  *) echo "usage: bash bench/setup-torch.sh [--cuda]" >&2; exit 2 ;;
esac
if [ "$CUDA" = 1 ]; then
  VENV="${BENCH_VENV:-$HOME/.cache/deepreduce/bench-venv-cuda}"
else
  VENV="${BENCH_VENV:-$HOME/.cache/deepreduce/bench-venv}"
fi
TORCH_VERSION="${TORCH_VERSION:-2.15.0}"
PYTHON="${PYTHON:-python3}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

say() { echo "setup-torch: $*" >&2; }
for tool in "$PYTHON" cc readelf; do
  command -v "$tool" >/dev/null || { say "error: '$tool' not found"; exit 1; }
done

if [ ! -x "$VENV/bin/python" ]; then
  say "creating venv $VENV"
  mkdir -p "$(dirname "$VENV")"
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check --no-input)

installed_version() {
  "$PY" - <<'EOF'
from importlib import metadata
try:
    print(metadata.version("torch"))
except metadata.PackageNotFoundError:
    print("")
EOF
}

if [ "$CUDA" = 1 ]; then
  if [ "$(installed_version)" != "$TORCH_VERSION" ]; then
    say "installing torch==$TORCH_VERSION with its CUDA wheels"
    "${PIP[@]}" install "torch==$TORCH_VERSION" numpy
  fi
  say "checking torch on the GPU"
  "$PY" - <<'EOF'
import torch
assert torch.cuda.is_available(), "this torch sees no CUDA GPU (driver missing or too old?)"
x = torch.randn(64, 64, device="cuda")
assert torch.isfinite(x @ x).all()
print(f"setup-torch: ok: torch {torch.__version__} on {torch.cuda.get_device_name(0)}, "
      f"CUDA {torch.version.cuda}")
EOF
  say "venv: $VENV"
  echo "$PY"
  exit 0
fi

if [ "$(installed_version)" != "$TORCH_VERSION" ]; then
  say "installing torch==$TORCH_VERSION (--no-deps, no nvidia-* / triton wheels)"
  "${PIP[@]}" install --no-deps "torch==$TORCH_VERSION"
fi

# torch's own requirements minus the CUDA/triton ones (they are all marked
# platform_system == "Linux"), extras and anything already satisfied.
mapfile -t REQS < <("$PY" - <<'EOF'
import re
from importlib import metadata
for req in metadata.requires("torch") or []:
    name = re.split(r"[\s;<>=!~\[(]", req, maxsplit=1)[0].lower()
    if "extra ==" in req or name.startswith(("nvidia-", "cuda-", "triton")):
        continue
    print(req)
print("numpy")
EOF
)
if ! "$PY" -c 'import filelock, typing_extensions, sympy, networkx, jinja2, fsspec, numpy' 2>/dev/null; then
  say "installing torch's pure-Python requirements: ${REQS[*]}"
  "${PIP[@]}" install "${REQS[@]}"
fi

TORCH_DIR="$("$PY" -c 'import importlib.util, os; print(os.path.dirname(importlib.util.find_spec("torch").origin))')"
if ! "$PY" "$HERE/make_cuda_stubs.py" --check "$TORCH_DIR" >/dev/null; then
  say "building CUDA stand-in libraries in $TORCH_DIR/lib"
  "$PY" "$HERE/make_cuda_stubs.py" "$TORCH_DIR"
fi

say "checking torch on the CPU"
"$PY" - <<'EOF'
import torch
a = torch.randn(2, 2) @ torch.randn(2, 2)
conv = torch.nn.Conv2d(3, 4, 3, padding=1, bias=False)
x = torch.randn(2, 3, 8, 8, requires_grad=True)
torch.nn.functional.relu(torch.nn.BatchNorm2d(4)(conv(x))).sum().backward()
assert a.shape == (2, 2) and conv.weight.grad is not None and x.grad.shape == x.shape
assert torch.isfinite(conv.weight.grad).all()
print(f"setup-torch: ok: torch {torch.__version__}, cuda available: {torch.cuda.is_available()}, "
      f"mkldnn: {torch.backends.mkldnn.is_available()}, threads: {torch.get_num_threads()}")
EOF
say "venv: $VENV"
echo "$PY"
