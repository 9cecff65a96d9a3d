#!/usr/bin/env bash
# Create (or reuse) the Python virtual environment in which the export tests
# check the exported files with the reference tools: onnx (checker, shape
# inference), onnxruntime, numpy and safetensors, all from PyPI. Idempotent:
# a venv that already imports them is left as it is. Prints the python path.
set -euo pipefail
VENV="${DEEPREDUCE_EXPORT_VENV:-$HOME/.cache/deepreduce/export-venv}"
PYTHON="${PYTHON:-python3}"
check='import onnx, onnxruntime, numpy, safetensors'
if [ ! -x "$VENV/bin/python" ]; then
  mkdir -p "$(dirname "$VENV")"
  "$PYTHON" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "$check" 2>/dev/null; then
  "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q \
    onnx onnxruntime numpy safetensors
  "$VENV/bin/python" -c "$check"
fi
echo "$VENV/bin/python"
