"""What both runners share: their command line, waiting for the two party
processes under one time limit, and comparing the revealed logits with the
plaintext ones."""

import argparse
import subprocess
import sys
import time

import numpy as np


def arguments(doc, default_port):
    """The runner's arguments; the hidden ones are a party's own."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--onnx", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--port", type=int, default=default_port)
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--party", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--report-out", help=argparse.SUPPRESS)
    ap.add_argument("--logits-out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.repeat < 1:
        sys.exit("--repeat must be at least 1")
    return args


def wait_all(procs, timeout, framework):
    """Waits for every party; kills them all and exits when the time is up.
    Returns their exit codes."""
    deadline = time.monotonic() + timeout
    for p in procs:
        try:
            p.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            sys.exit(f"{framework}: the parties did not finish within {timeout} s")
    return [p.returncode for p in procs]


def agreement(revealed, expected):
    """The revealed logits against the plaintext forward's."""
    return {
        "max_abs_diff": float(np.max(np.abs(revealed - expected))),
        "top1_agreement": float(np.mean(revealed.argmax(1) == expected.argmax(1))),
    }
