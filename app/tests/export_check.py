"""Checks exported files with the reference tools; used by app/tests/export.rs.

  export_check.py onnx MODEL IN.f32:OUT.f32 [IN.f32:OUT.f32 ...]
      onnx.checker.check_model(full_check=True), then onnxruntime on each
      input (raw little-endian float32, NCHW; its batch size follows from its
      length), writing the outputs as raw float32. Prints one JSON object:
      opset, ir_version, node count and op types, input/output names and
      dims, the ReLU elements per sample from onnx shape inference, and how
      many Mul/Add nodes take a constant (a Constant node's output or an
      initializer) as their first operand, which CrypTen refuses.
  export_check.py safetensors FILE
      Loads the file and prints {name: {"dtype": ..., "shape": [...]}} and
      its metadata as JSON.
"""

import json
import sys
from collections import Counter

import numpy as np


def dims(value_info):
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


def check_onnx(path, pairs):
    import onnx
    import onnxruntime as ort

    onnx.checker.check_model(path, full_check=True)
    model = onnx.load(path)
    inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    shapes = {v.name: dims(v) for v in inferred.graph.value_info}
    shapes.update({v.name: dims(v) for v in inferred.graph.output})
    relu_elements = 0
    for node in model.graph.node:
        if node.op_type == "Relu":
            shape = shapes[node.output[0]]
            assert shape[0] == "batch", f"{node.name}: batch axis {shape[0]!r}"
            assert all(isinstance(d, int) and d > 0 for d in shape[1:]), shape
            relu_elements += int(np.prod(shape[1:]))

    constants = {n.output[0] for n in model.graph.node if n.op_type == "Constant"}
    constants.update(i.name for i in model.graph.initializer)
    constant_first = sum(
        1 for n in model.graph.node if n.op_type in ("Mul", "Add") and n.input[0] in constants
    )

    input_dims = dims(model.graph.input[0])
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    for pair in pairs:
        src, dst = pair.split(":")
        x = np.fromfile(src, dtype="<f4").reshape([-1] + input_dims[1:])
        (y,) = session.run(None, {input_name: x})
        y.astype("<f4").tofile(dst)

    print(json.dumps({
        "opset": [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")][0],
        "ir_version": model.ir_version,
        "nodes": len(model.graph.node),
        "op_types": Counter(n.op_type for n in model.graph.node),
        "inputs": [[i.name, dims(i)] for i in model.graph.input],
        "outputs": [[o.name, dims(o)] for o in model.graph.output],
        "initializers": len(model.graph.initializer),
        "relu_elements": relu_elements,
        "constant_first": constant_first,
    }))


def list_safetensors(path):
    from safetensors import safe_open

    with safe_open(path, framework="numpy") as f:
        tensors = {}
        for name in f.keys():
            t = f.get_tensor(name)
            tensors[name] = {"dtype": str(t.dtype), "shape": list(t.shape)}
        print(json.dumps({"tensors": tensors, "metadata": f.metadata()}))


if __name__ == "__main__":
    kind, path, *rest = sys.argv[1:]
    if kind == "onnx":
        check_onnx(path, rest)
    elif kind == "safetensors":
        list_safetensors(path)
    else:
        sys.exit(f"unknown kind {kind!r}")
