#!/usr/bin/env bash
# Create (or reuse) the Python virtual environment in which
# measure/crypten_party.py runs CrypTen (PyPI only, CPU only). Idempotent:
# a venv that already imports everything is left as it is. Prints the python
# path.
#
#   bash measure/setup-crypten.sh     # -> ~/.cache/deepreduce/crypten-venv
#
# How, and why (facts in NOTES-crypten.md of the probe):
# - torch: the CPU-usable torch of bench/setup-torch.sh (the PyPI wheel with
#   --no-deps and stand-ins for the CUDA libraries it links against);
# - crypten 0.4.1 with --no-deps: one of its declared requirements is the
#   deprecated PyPI name `sklearn`, which refuses to install; its ONNX path
#   needs only omegaconf and pyyaml besides torch, onnx and numpy;
# - onnx and onnxruntime: the plaintext reference of the runner.
set -euo pipefail
VENV="${DEEPREDUCE_CRYPTEN_VENV:-$HOME/.cache/deepreduce/crypten-venv}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
check='import torch, onnx, onnxruntime, numpy, omegaconf, yaml; import importlib.metadata as m; assert m.version("crypten") == "0.4.1"'
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "$check" 2>/dev/null; then
  echo "$VENV/bin/python"
  exit 0
fi
BENCH_VENV="$VENV" bash "$HERE/../bench/setup-torch.sh" >&2
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check --no-input -q)
"${PIP[@]}" install --no-deps crypten==0.4.1 >&2
"${PIP[@]}" install omegaconf pyyaml onnx onnxruntime numpy >&2
"$VENV/bin/python" -c "$check"
echo "$VENV/bin/python"
