"""The paper's ten Table-4 ResNet18 networks (CIFAR-100 shape, 32x32, full
width), measured untrained with noise images at batch 1, and tabulated.

    python3 measure/table4.py measure DB cheetah|crypten [--deepreduce BIN]
    python3 measure/table4.py table DB [--deepreduce BIN]

`measure` runs `deepreduce measure --random-weights` for each network; the
reports are kept in the run store DB (where `deepreduce calibrate` fits a
framework's latency model). `table` prints a Markdown table of every
network: ReLUs, the DELPHI estimate, the paper's measured DELPHI latency,
and per framework the measured online seconds, bytes and rounds; then the
correlation of measured bytes with ReLUs and of measured time with the
paper's latencies. Standard library only.
"""

import argparse
import json
import math
import sqlite3
import subprocess

# (arch, stages kept, thinned, alpha, rho, the paper's DELPHI online
# seconds): app/src/engine/paper.rs RELU_TABLE and DEEPREDUCE_PARETO.
NETWORKS = [
    ("resnet18", "S2,S3,S4", False, 1.0, 1.0, 4.61),
    ("resnet18", "S2,S3", False, 1.0, 1.0, 3.94),
    ("resnet18", "S2,S3,S4", True, 1.0, 1.0, 2.38),
    ("resnet18", "S2,S3,S4", True, 0.5, 1.0, 1.37),
    ("resnet18", "S2,S3", True, 0.5, 1.0, 1.19),
    ("resnet18", "S2,S3,S4", True, 1.0, 0.5, 0.74),
    ("resnet18", "S2,S3", True, 1.0, 0.5, 0.56),
    ("resnet18", "S2,S3,S4", True, 0.5, 0.5, 0.52),
    ("resnet18", "S2,S3", True, 0.5, 0.5, 0.45),
    ("resnet10", "S2,S3,S4", True, 0.5, 0.5, 0.21),
]
FRAMEWORKS = ["cheetah", "crypten"]


def network_flags(arch, keep, thin, alpha, rho):
    flags = ["--arch", arch, "--dataset", "cifar100", "--keep", keep,
             "--alpha", str(alpha), "--rho", str(rho)]
    return flags + (["--thin"] if thin else [])


def measure(args):
    for arch, keep, thin, alpha, rho, _ in NETWORKS:
        subprocess.run(
            [args.deepreduce, "measure", "--random-weights", "--db", args.db,
             "--framework", args.framework, "--batch", "1", "--repeat", "1", "--json",
             *network_flags(arch, keep, thin, alpha, rho)],
            check=True,
        )


def count(args, network):
    out = subprocess.run(
        [args.deepreduce, "count", "--json", *network_flags(*network[:5])],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


def latest_reports(db, framework):
    """The reports of the last `measure` in this framework: the newest
    len(NETWORKS) untrained measurements, in NETWORKS order."""
    rows = sqlite3.connect(db).execute(
        "SELECT report FROM measurements WHERE framework = ? AND run_id IS NULL ORDER BY id",
        (framework,),
    ).fetchall()
    return [json.loads(text) for (text,) in rows[-len(NETWORKS):]]


def pearson(xs, ys):
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    return sxy / math.sqrt(sxx * syy)


def table(args):
    measured = {fw: latest_reports(args.db, fw) for fw in FRAMEWORKS}
    header = ["network", "ReLUs", "DELPHI est. s", "paper DELPHI s"]
    for fw in FRAMEWORKS:
        header += [f"{fw} online s", f"{fw} MB", f"{fw} rounds"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    series = {fw: [] for fw in FRAMEWORKS}  # (relus, paper s, bytes, seconds)
    for i, network in enumerate(NETWORKS):
        counted = count(args, network)
        delphi = counted["latency"]["org.deepreduce.delphi"]["online_seconds"]
        cells = [counted["description"], f"{counted['relus']:,}", f"{delphi:.2f}", f"{network[5]:.2f}"]
        for fw in FRAMEWORKS:
            report = measured[fw][i] if i < len(measured[fw]) else None
            # Reports record the network's ReLUs (older ones do not).
            if report and report.get("relus", 0) not in (0, counted["relus"]):
                raise SystemExit(f"{fw}: the stored reports are not the ten networks in order")
            if report is None:
                cells += ["-", "-", "-"]
                continue
            cells += [f"{report['online_seconds']:.2f}", f"{report['bytes'] / 1e6:.1f}", str(report["rounds"])]
            series[fw].append((counted["relus"], network[5], report["bytes"], report["online_seconds"]))
        print("| " + " | ".join(cells) + " |")
    print()
    for fw, points in series.items():
        if len(points) < 3:
            continue
        relus, paper, bytes_, seconds = zip(*points)
        print(f"- {fw}: correlation of measured bytes with ReLUs {pearson(relus, bytes_):.3f}; "
              f"of measured online time with the paper's DELPHI latency {pearson(paper, seconds):.3f} "
              f"({len(points)} networks)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    m = sub.add_parser("measure")
    m.add_argument("db")
    m.add_argument("framework", choices=FRAMEWORKS)
    t = sub.add_parser("table")
    t.add_argument("db")
    for p in (m, t):
        p.add_argument("--deepreduce", default="deepreduce")
    args = ap.parse_args()
    measure(args) if args.command == "measure" else table(args)


if __name__ == "__main__":
    main()
