"""Measures an exported network's private inference in SecretFlow SPU with
the Cheetah 2PC protocol: two OS processes (rank 0 owns the model, rank 1
owns the images) linked by brpc over TCP on 127.0.0.1; each owner secret-
shares its input and sends the other party its share; the logits are
revealed at the end.

    python spu_measure.py --onnx model.onnx --images batch.npy \
        [--repeat 3] [--port 9920] > report.json

The first run of a session pays Cheetah's one-time OT setup: it is reported
apart (`setup_seconds`, `setup_bytes`), the online figures are the median of
the runs after it. Per-node figures (`layers`) come from a second pass that
runs each ONNX node as its own executable. Security setting: Cheetah needs no trusted third party;
SPU refuses plaintext weights held by one party, so the weights are
secret-shared too.
"""

import json
import os
import pickle
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parties as two_parties  # noqa: E402 (beside this file)

import numpy as np

# 18 (SPU's usual) left a trained Fashion-MNIST network's logits 1.1e-2 off.
FRACTION_BITS = 20
SECURITY = (
    "Cheetah 2PC (semi-honest, no trusted third party, HE-based linear layers "
    "and OT-based non-linear ones); weights secret-shared by the model owner, "
    f"images by the input owner; 64-bit ring, {FRACTION_BITS} fraction bits"
)
MODEL_OWNER, INPUT_OWNER = 0, 1
IMAGES = "images"


def runtime_config():
    from spu import libspu

    config = libspu.RuntimeConfig()
    config.protocol = libspu.ProtocolKind.CHEETAH
    config.field = libspu.FieldType.FM64
    config.fxp_fraction_bits = FRACTION_BITS
    config.enable_pphlo_profile = True
    return config


def link(rank, port):
    from spu import libspu

    desc = libspu.link.Desc()
    desc.recv_timeout_ms = 600_000
    for r in (0, 1):
        desc.add_party(f"party{r}", f"127.0.0.1:{port + r}")
    return libspu.link.create_brpc(desc, rank)


OP_LINE = re.compile(
    r"- (pphlo\.\w+), executed (\d+) times, duration ([\d.e-]+)s, send bytes (\d+) "
    r"recv bytes (\d+), send actions (\d+)"
)
TOTAL_LINE = re.compile(
    r"Link details: total send bytes (\d+), recv bytes (\d+), send actions (\d+)"
)


def profiled_runs(log_path):
    """The runs SPU's profile logged (enable_pphlo_profile), in order: per
    run the link totals of this party and the per-op counts."""
    runs, ops = [], []
    with open(log_path, errors="replace") as f:
        for line in f:
            if m := OP_LINE.search(line):
                ops.append({
                    "op": m[1], "executed": int(m[2]), "seconds": float(m[3]),
                    "bytes": int(m[4]), "rounds": int(m[6]),
                })
            elif m := TOTAL_LINE.search(line):
                runs.append({"sent_bytes": int(m[1]), "recv_bytes": int(m[2]),
                             "sent_actions": int(m[3]), "ops": ops})
                ops = []
    return runs


def compile_jax(function, args, names, outputs):
    """`function` compiled by SPU for secret `args` named `names`; its
    outputs get the names `outputs` gives."""
    import spu.utils.frontend as frontend
    from spu import libspu

    executable, _ = frontend.compile(
        frontend.Kind.JAX,
        function,
        args,
        {},
        names,
        [libspu.Visibility.VIS_SECRET] * len(args),
        outputs,
    )
    return executable


def var_name(graph, value):
    """The runtime variable holding `value`: the images under their own
    name, every weight and activation under its ONNX name."""
    return IMAGES if value == graph.input_name else value


def compile_network(graph, images):
    """The whole network: one executable of every weight and the images."""
    names = sorted(graph.weights)

    def network(*flat):
        return graph.forward(dict(zip(names, flat[:-1])), flat[-1])

    args = [graph.weights[n] for n in names] + [images]
    return compile_jax(
        network, args, names + [IMAGES],
        lambda outputs: [f"logits{i}" for i in range(len(outputs))],
    )


def compile_nodes(graph, images):
    """One executable per ONNX node, reading its inputs from and writing its
    output to the runtime's variables: run in order, they are the network
    node by node, and each one's traffic is that node's."""
    plain = graph.values(graph.weights, images)
    compiled = []
    for node in graph.nodes:
        inputs = graph.node_inputs(node)
        output = node.output[0]
        executable = compile_jax(
            graph.node_function(node),
            [np.asarray(plain[i]) for i in inputs],
            [var_name(graph, i) for i in inputs],
            lambda outputs, output=output: [output],
        )
        compiled.append((node, executable))
    return compiled


def share_inputs(ctx, io, rt, rank, mine):
    """Each owner shares its own arrays and sends the other party its
    share; both set their share of every input."""
    from spu import libspu

    peer = 1 - rank
    for owner in (MODEL_OWNER, INPUT_OWNER):
        if owner == rank:
            outgoing = {}
            for name, value in mine.items():
                shares = io.make_shares(value, libspu.Visibility.VIS_SECRET)
                rt.set_var(name, shares[rank])
                outgoing[name] = (shares[peer].meta, list(shares[peer].share_chunks))
            ctx.send(peer, pickle.dumps(outgoing))
        else:
            for name, (meta, chunks) in pickle.loads(ctx.recv(peer)).items():
                share = libspu.Share()
                share.meta, share.share_chunks = meta, chunks
                rt.set_var(name, share)


def reveal(ctx, io, rt, rank, name):
    from spu import libspu

    mine = rt.get_var(name)
    ctx.send(1 - rank, pickle.dumps((mine.meta, list(mine.share_chunks))))
    meta, chunks = pickle.loads(ctx.recv(1 - rank))
    theirs = libspu.Share()
    theirs.meta, theirs.share_chunks = meta, chunks
    return io.reconstruct([mine, theirs] if rank == 0 else [theirs, mine])


def party(args):
    import spu
    import onnx_jax

    rank = int(os.environ["SPU_RANK"])
    graph = onnx_jax.Graph(args.onnx)
    images = np.load(args.images).astype(np.float32)
    executable = compile_network(graph, images)
    nodes = compile_nodes(graph, images)
    config = runtime_config()
    ctx = link(rank, args.port)
    rt, io = spu.Runtime(ctx, config), spu.Io(2, config)
    mine = graph.weights if rank == MODEL_OWNER else {IMAGES: images}
    share_inputs(ctx, io, rt, rank, mine)
    runs = []
    for _ in range(args.repeat + 1):
        ctx.barrier()
        start = time.perf_counter()
        rt.run(executable)
        runs.append({"seconds": time.perf_counter() - start})
    logits = reveal(ctx, io, rt, rank, executable.output_names[0])
    # The node-by-node pass, after the setup was paid: each profiled run
    # is one node's traffic.
    for _, node_executable in nodes:
        ctx.barrier()
        rt.run(node_executable)
    if rank == INPUT_OWNER:
        np.save(args.logits_out, logits)
    with open(args.report_out, "w") as f:
        json.dump({"rank": rank, "runs": runs,
                   "nodes": [{"node": n.name, "op": n.op_type} for n, _ in nodes]}, f)
    ctx.stop_link()


def drive(args):
    from importlib import metadata
    import onnx_jax
    import onnxruntime

    with tempfile.TemporaryDirectory() as tmp:
        reports = [os.path.join(tmp, f"party{r}.json") for r in (0, 1)]
        logs = [os.path.join(tmp, f"party{r}.log") for r in (0, 1)]
        logits_file = os.path.join(tmp, "logits.npy")
        procs = []
        for rank in (MODEL_OWNER, INPUT_OWNER):
            cmd = [
                sys.executable, __file__, "--party",
                "--onnx", args.onnx, "--images", args.images,
                "--repeat", str(args.repeat), "--port", str(args.port),
                "--report-out", reports[rank], "--logits-out", logits_file,
            ]
            env = dict(os.environ, SPU_RANK=str(rank))
            with open(logs[rank], "w") as log:
                procs.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=log))
        codes = two_parties.wait_all(procs, args.timeout, "spu")
        if any(codes):
            tail = open(logs[0], errors="replace").read()[-2000:]
            sys.exit(f"spu: a party failed (exit codes {codes}):\n{tail}")
        parties = [json.load(open(r)) for r in reports]
        for party_report, log in zip(parties, logs):
            profiled = profiled_runs(log)
            runs, nodes = party_report["runs"], party_report["nodes"]
            if len(profiled) != len(runs) + len(nodes):
                sys.exit(f"spu: {len(profiled)} profiled runs for {len(runs)} runs and {len(nodes)} nodes")
            for run, counts in zip(runs, profiled):
                run.update(counts)
            for node, counts in zip(nodes, profiled[len(runs):]):
                node.update(bytes=counts["sent_bytes"], rounds=counts["sent_actions"])
        revealed = np.load(logits_file)

    images = np.load(args.images).astype(np.float32)
    graph = onnx_jax.Graph(args.onnx)
    session = onnxruntime.InferenceSession(args.onnx, providers=["CPUExecutionProvider"])
    expected = session.run(None, {graph.input_name: images})[0]

    def both(run_index, key):
        return sum(p["runs"][run_index][key] for p in parties)

    steady = range(1, args.repeat + 1)
    report = {
        "framework": "spu",
        "version": metadata.version("spu"),
        "protocol": "cheetah",
        "security": SECURITY,
        "parties": "two OS processes linked by brpc over TCP on 127.0.0.1",
        "batch": int(images.shape[0]),
        "repeat": args.repeat,
        "setup_seconds": max(p["runs"][0]["seconds"] for p in parties),
        "setup_bytes": both(0, "sent_bytes"),
        "online_seconds": statistics.median(
            max(p["runs"][i]["seconds"] for p in parties) for i in steady
        ),
        "bytes": both(1, "sent_bytes"),
        "rounds": max(p["runs"][1]["sent_actions"] for p in parties),
        "rounds_named": "messages sent per party (SPU's link send actions)",
        # Per ONNX node, from the node-by-node pass: bytes sent by both
        # parties, messages sent by the busier one.
        "layers": [
            {"node": mine["node"], "op": mine["op"],
             "bytes": mine["bytes"] + theirs["bytes"],
             "rounds": max(mine["rounds"], theirs["rounds"])}
            for mine, theirs in zip(parties[0]["nodes"], parties[1]["nodes"])
        ],
        "layers_measured": "node by node in a separate pass after the whole-network runs "
                           "(each node its own SPU executable); their sum may differ "
                           "slightly from the whole network's",
        **two_parties.agreement(revealed, expected),
    }
    json.dump(report, sys.stdout, indent=1)
    print()


def main():
    args = two_parties.arguments(__doc__, 9920)
    party(args) if args.party else drive(args)


if __name__ == "__main__":
    main()
