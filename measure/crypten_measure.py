"""Measures an exported network's private inference in CrypTen: two OS
processes (rank 0 owns the model, rank 1 owns the images) talking over TCP
on 127.0.0.1 (gloo), the logits revealed at the end.

    python crypten_measure.py --onnx model.onnx --images batch.npy \
        [--repeat 3] [--port 29500] > report.json

`batch.npy` holds float32 images, N x C x H x W, already normalised as the
network expects. The report (JSON on stdout) gives CrypTen's version and
security setting, the one-time setup apart from the online forward, the
median online wall time, bytes (both parties) and rounds (per party, as
CrypTen counts them) in total and per ONNX node, and the revealed logits against
onnxruntime's plaintext forward of the same file.

Security setting: CrypTen's default provider is a trusted first party that
deals the Beaver triples, so these are online costs only (no offline phase).
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parties as two_parties  # noqa: E402 (beside this file)

PRECISION_BITS = 20
SECURITY = (
    f"arithmetic secret sharing (2 parties, 64-bit ring, {PRECISION_BITS} fraction bits) with a trusted "
    "dealer for Beaver triples: online cost only, no offline phase counted; "
    "weights secret-shared by the model owner, images by the input owner"
)
MODEL_OWNER, INPUT_OWNER = 0, 1


def import_crypten():
    """CrypTen 0.4.1 imports a module torch >= 2.9 moved; alias it first."""
    import torch

    exporter = getattr(torch.onnx._internal, "torchscript_exporter", None)
    if exporter is not None:
        sys.modules.setdefault(
            "torch.onnx._internal.registration", exporter.registration
        )
    import crypten

    return torch, crypten


def count_layers(model, comm, layers):
    """Counts each graph node's bytes and rounds (this party's) into
    `layers`, keyed by node name; returns the undo. CrypTen modules resolve
    `forward` dynamically, so the count wraps their classes' `__call__`."""
    # Weights are graph nodes too (op Parameter); only operations count.
    names = {
        id(module): name
        for name, module in model._modules.items()
        if type(module).__name__ != "Parameter"
    }
    classes = {type(model._modules[n]) for n in model._modules if id(model._modules[n]) in names}
    own = {cls: cls.__dict__.get("__call__") for cls in classes}

    def wrap(call):
        def counted(self, *args, **kwargs):
            name = names.get(id(self))
            if name is None:
                return call(self, *args, **kwargs)
            before = comm.get_communication_stats()
            out = call(self, *args, **kwargs)
            after = comm.get_communication_stats()
            entry = layers.setdefault(
                name, {"node": name, "op": type(self).__name__, "bytes": 0, "rounds": 0}
            )
            entry["bytes"] += after["bytes"] - before["bytes"]
            entry["rounds"] += after["rounds"] - before["rounds"]
            return out

        return counted

    for cls in classes:
        cls.__call__ = wrap(cls.__call__)

    def undo():
        for cls, call in own.items():
            if call is None:
                del cls.__call__
            else:
                cls.__call__ = call

    return undo


def party(args):
    """One party's side: rank from the environment, as CrypTen documents."""
    torch, crypten = import_crypten()
    import numpy as np

    rank = int(os.environ["RANK"])
    started = time.perf_counter()
    # CrypTen counts bytes and rounds only when its communicator is verbose.
    crypten.cfg.communicator.verbose = True
    # 20 fraction bits: CrypTen's default 16 left a trained Fashion-MNIST
    # network's logits 4e-2 off; 20 gives 3e-3 at the same bytes.
    crypten.cfg.encoder.precision_bits = PRECISION_BITS
    crypten.init()
    comm = crypten.comm.get()
    images = np.load(args.images).astype(np.float32)
    with open(args.onnx, "rb") as f:
        model = crypten.nn.from_onnx(f)
    model.encrypt(src=MODEL_OWNER)
    model.eval()
    # The model owner's images are zeros of the right shape: only the
    # input owner's are shared.
    mine = images if rank == INPUT_OWNER else np.zeros_like(images)
    setup_seconds = time.perf_counter() - started

    # Per-node counts come from the first forward (the same every time),
    # the wall time from every one.
    online, totals, layers = [], None, {}
    undo = count_layers(model, comm, layers)
    for _ in range(args.repeat):
        comm.reset_communication_stats()
        start = time.perf_counter()
        x = crypten.cryptensor(torch.from_numpy(mine), src=INPUT_OWNER)
        logits = model(x).get_plain_text()
        online.append(time.perf_counter() - start)
        if totals is None:
            totals = comm.get_communication_stats()
            undo()
    if rank == INPUT_OWNER:
        np.save(args.logits_out, logits.numpy())
    with open(args.report_out, "w") as f:
        json.dump(
            {
                "rank": rank,
                "setup_seconds": setup_seconds,
                "online_seconds": online,
                "bytes": totals["bytes"],
                "rounds": totals["rounds"],
                "layers": list(layers.values()),
            },
            f,
        )
    # Leave without running the interpreter's and the C++ libraries'
    # teardown: gloo's threads are still joinable then, and now and then a
    # party died there with "terminate called without an active exception"
    # (SIGABRT) after its work was done and written.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def plaintext_logits(onnx_path, images):
    import onnxruntime

    session = onnxruntime.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return session.run(None, {name: images})[0]


def onnx_op_types(onnx_path):
    import onnx

    return {node.name: node.op_type for node in onnx.load(onnx_path).graph.node}


def drive(args):
    """Starts both parties, waits, and writes the report."""
    import numpy as np
    from importlib import metadata

    with tempfile.TemporaryDirectory() as tmp:
        reports = [os.path.join(tmp, f"party{r}.json") for r in (0, 1)]
        logits_file = os.path.join(tmp, "logits.npy")
        procs = []
        for rank in (MODEL_OWNER, INPUT_OWNER):
            env = dict(
                os.environ,
                RANK=str(rank),
                WORLD_SIZE="2",
                RENDEZVOUS=f"tcp://127.0.0.1:{args.port}",
                GLOO_SOCKET_IFNAME="lo",
            )
            cmd = [
                sys.executable, __file__, "--party",
                "--onnx", args.onnx, "--images", args.images,
                "--repeat", str(args.repeat),
                "--report-out", reports[rank], "--logits-out", logits_file,
            ]
            procs.append(subprocess.Popen(cmd, env=env, stdout=sys.stderr))
        codes = two_parties.wait_all(procs, args.timeout, "crypten")
        if any(codes):
            sys.exit(f"crypten: a party failed (exit codes {codes})")
        parties = [json.load(open(r)) for r in reports]
        revealed = np.load(logits_file)

    images = np.load(args.images).astype(np.float32)
    expected = plaintext_logits(args.onnx, images)
    owner, inputs = parties
    # CrypTen names a node's module after the ONNX node; its class is
    # CrypTen's, so the op is read back from the file.
    onnx_ops = onnx_op_types(args.onnx)
    layers = [
        {"node": mine["node"], "op": onnx_ops.get(mine["node"], mine["op"]),
         "bytes": mine["bytes"] + theirs["bytes"], "rounds": mine["rounds"]}
        for mine, theirs in zip(owner["layers"], inputs["layers"])
    ]
    report = {
        "framework": "crypten",
        "version": metadata.version("crypten"),
        "protocol": "CrypTen MPC (arithmetic and binary secret sharing)",
        "security": SECURITY,
        "parties": "two OS processes over TCP on 127.0.0.1 (gloo)",
        "batch": int(images.shape[0]),
        "repeat": args.repeat,
        "setup_seconds": max(p["setup_seconds"] for p in parties),
        "online_seconds": statistics.median(
            max(a, b) for a, b in zip(owner["online_seconds"], inputs["online_seconds"])
        ),
        "bytes": owner["bytes"] + inputs["bytes"],
        "bytes_per_party": [owner["bytes"], inputs["bytes"]],
        "rounds": owner["rounds"],
        "rounds_named": "communication rounds as CrypTen counts them, per party",
        "layers": layers,
        **two_parties.agreement(revealed, expected),
    }
    json.dump(report, sys.stdout, indent=1)
    print()


def main():
    args = two_parties.arguments(__doc__, 29500)
    party(args) if args.party else drive(args)


if __name__ == "__main__":
    main()
