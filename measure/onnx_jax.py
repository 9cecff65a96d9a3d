"""The exported network as a JAX function, for SPU (which reads no ONNX).

A small interpreter of exactly the ops the workbench exports (see
app/src/engine/export): Conv, Relu, Add, Mul, Gemm, MaxPool, AveragePool,
GlobalAveragePool, Flatten, Gather and Concat with constant indices,
Constant. BatchNormalization is refused: fold it first (`--fold-bn`), a
secret one costs a secure inverse square root per forward.

Integer operands (Gather's indices) stay Python/NumPy constants, so they
are public at compile time: secret indices made one model 100x slower.
"""

import numpy as np


class Unsupported(Exception):
    pass


def attrs(node):
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


class Graph:
    """The ONNX file at `path`: its weights (float initialisers), public
    constants, input and output names and nodes in graph order."""

    def __init__(self, path):
        import onnx
        from onnx import numpy_helper

        graph = onnx.load(path).graph
        self.weights = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        self.constants = {}
        for node in graph.node:
            if node.op_type == "Constant":
                self.constants[node.output[0]] = numpy_helper.to_array(attrs(node)["value"])
            elif node.op_type not in OPS:
                raise Unsupported(f"op {node.op_type} (node {node.name}) is not one the workbench exports")
        # Integer initialisers are indices: public constants, not weights.
        for name in [n for n, w in self.weights.items() if w.dtype.kind in "iu"]:
            self.constants[name] = self.weights.pop(name)
        self.input_name = next(i.name for i in graph.input if i.name not in self.weights)
        self.output_name = graph.output[0].name
        self.nodes = [n for n in graph.node if n.op_type != "Constant"]

    def values(self, params, images):
        """Every value of the forward pass, by name."""
        values = dict(self.constants)
        values.update(params)
        values[self.input_name] = images
        for node in self.nodes:
            args = [values[i] if i else None for i in node.input]
            values[node.output[0]] = OPS[node.op_type](node, *args)
        return values

    def forward(self, params, images):
        """The logits: a function of (weights dict, images)."""
        return self.values(params, images)[self.output_name]

    def node_inputs(self, node):
        """The names `node` reads that are not public constants."""
        return [i for i in node.input if i and i not in self.constants]

    def node_function(self, node):
        """`node` alone, as a function of its non-constant inputs (in
        `node_inputs` order)."""
        names = self.node_inputs(node)

        def run(*arrays):
            given = dict(zip(names, arrays))
            args = [given.get(i, self.constants.get(i)) if i else None for i in node.input]
            return OPS[node.op_type](node, *args)

        return run


def _pads(a, rank):
    pads = a.get("pads", [0] * (2 * rank))
    return [(pads[i], pads[i + rank]) for i in range(rank)]


def conv(node, x, w, b=None):
    from jax import lax

    a = attrs(node)
    y = lax.conv_general_dilated(
        x,
        w,
        window_strides=a.get("strides", [1, 1]),
        padding=_pads(a, 2),
        rhs_dilation=a.get("dilations", [1, 1]),
        feature_group_count=a.get("group", 1),
        dimension_numbers=("NCHW", "OIHW", "NCHW"),
    )
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def relu(node, x):
    import jax.numpy as jnp

    return jnp.maximum(x, 0)


def gemm(node, a_, b, c=None):
    a = attrs(node)
    if a.get("transA", 0):
        a_ = a_.T
    if a.get("transB", 0):
        b = b.T
    y = a.get("alpha", 1.0) * (a_ @ b)
    return y if c is None else y + a.get("beta", 1.0) * c


def _pool(node, x, init, op, average):
    from jax import lax

    a = attrs(node)
    k = a["kernel_shape"]
    strides = a.get("strides", k)
    pads = [(0, 0), (0, 0)] + _pads(a, 2)
    y = lax.reduce_window(x, init, op, (1, 1, *k), (1, 1, *strides), pads)
    if average and a.get("count_include_pad", 0):
        y = y / float(np.prod(k))
    elif average:
        # count_include_pad = 0 (ONNX default): divide by the real window.
        ones = np.ones((1, 1, *x.shape[2:]), dtype=np.float32)
        count = lax.reduce_window(ones, 0.0, lax.add, (1, 1, *k), (1, 1, *strides), pads)
        y = y / count
    return y


def max_pool(node, x):
    from jax import lax

    return _pool(node, x, -np.inf, lax.max, False)


def average_pool(node, x):
    from jax import lax

    return _pool(node, x, 0.0, lax.add, True)


def global_average_pool(node, x):
    return x.mean(axis=(2, 3), keepdims=True)


def flatten(node, x):
    axis = attrs(node).get("axis", 1)
    return x.reshape(int(np.prod(x.shape[:axis])), -1)


def gather(node, x, indices):
    import jax.numpy as jnp

    if not isinstance(indices, np.ndarray):
        raise Unsupported(f"Gather {node.name}: indices must be constants (public)")
    return jnp.take(x, indices, axis=attrs(node).get("axis", 0))


def concat(node, *xs):
    import jax.numpy as jnp

    return jnp.concatenate(xs, axis=attrs(node)["axis"])


OPS = {
    "Conv": conv,
    "Relu": relu,
    "Add": lambda node, a, b: a + b,
    "Mul": lambda node, a, b: a * b,
    "Gemm": gemm,
    "MaxPool": max_pool,
    "AveragePool": average_pool,
    "GlobalAveragePool": global_average_pool,
    "Flatten": flatten,
    "Gather": gather,
    "Concat": concat,
}
