#!/usr/bin/env bash
# Create (or reuse) the Python virtual environment in which
# measure/spu_measure.py runs SecretFlow SPU's Cheetah protocol (PyPI only,
# CPU only). Idempotent: a venv that already imports everything is left as
# it is. Prints the python path.
#
#   bash measure/setup-spu.sh     # -> ~/.cache/deepreduce/spu-venv
#
# spu 0.9.5 needs Python >= 3.10 and < 3.12 (PYTHON=python3.11 by default);
# it pulls jax/jaxlib 0.4.34. SPU reads no ONNX: spu_measure.py turns the
# exported graph into a JAX function with its own small interpreter (onnx is
# only parsed), so no ONNX-to-JAX package is needed.
set -euo pipefail
VENV="${DEEPREDUCE_SPU_VENV:-$HOME/.cache/deepreduce/spu-venv}"
# spu 0.9.5 has wheels for CPython 3.10 and 3.11 only.
if [ -z "${PYTHON:-}" ]; then
  for candidate in python3.11 python3.10 python3; do
    if command -v "$candidate" >/dev/null &&
      "$candidate" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 11))'; then
      PYTHON="$candidate"
      break
    fi
  done
fi
[ -n "${PYTHON:-}" ] || { echo "setup-spu: needs Python 3.10 or 3.11 (set PYTHON)" >&2; exit 1; }
check='import spu, jax, onnx, onnxruntime, numpy; import importlib.metadata as m; assert m.version("spu") == "0.9.5"'
if [ ! -x "$VENV/bin/python" ]; then
  mkdir -p "$(dirname "$VENV")"
  "$PYTHON" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "$check" 2>/dev/null; then
  "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q \
    spu==0.9.5 onnx onnxruntime >&2
  "$VENV/bin/python" -c "$check"
fi
echo "$VENV/bin/python"
