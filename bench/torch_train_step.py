#!/usr/bin/env python3
"""Training-step throughput of a CIFAR-style ResNet18 in PyTorch on the CPU.

This is the PyTorch reference for the Rust (burn) training benchmark: it times
forward + backward + SGD update (lr 0.1, momentum 0.9, weight decay 4e-4) on
random N(0,1) 3x32x32 images with random labels and a cross-entropy loss, in a
single process using all cores, with the model in train mode.

The network mirrors the Rust side exactly:
  stem   conv3x3(3->w, stride 1, padding 1, no bias) - BN - ReLU
  stages 4 x 2 BasicBlocks, widths w, 2w, 4w, 8w, strides 1, 2, 2, 2
         block: conv3x3-BN-ReLU-conv3x3-BN (+ shortcut: identity, or
         conv1x1(stride s, no bias)-BN when the shape changes), add, ReLU
  head   adaptive avg pool 1x1, flatten, Linear(8w, classes)
At width 64 with 100 classes it has 11,220,132 parameters.

Usage (with the venv made by bench/setup-torch.sh):
  ~/.cache/deepreduce/bench-venv/bin/python bench/torch_train_step.py \
      [--width 64] [--batch 128] [--warmup 2] [--steps 5] [--json]

The reported figure is batch / median(per-step wall time) over the timed
steps (warm-up steps are not timed).  With --json exactly one JSON line is
printed on stdout:
  {"framework": "pytorch", "version": ..., "threads": n, "width": w,
   "batch": b, "images_per_second": x, "median_step_seconds": y, "params": p}
Exit codes: 0 ok, 2 bad arguments, 3 torch not importable.
"""
import argparse
import json
import os
import statistics
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except Exception as exc:  # ImportError, or OSError from missing shared libraries
    print(
        f"error: PyTorch is not importable with {sys.executable} ({type(exc).__name__}: {exc}).\n"
        "Run bench/setup-torch.sh and use ~/.cache/deepreduce/bench-venv/bin/python.",
        file=sys.stderr,
    )
    sys.exit(3)

CLASSES = 100
IMAGE_SHAPE = (3, 32, 32)
LR, MOMENTUM, WEIGHT_DECAY = 0.1, 0.9, 4e-4
SEED = 0


def conv3x3(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = conv3x3(cin, cout, stride)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = conv3x3(cout, cout, 1)
        self.bn2 = nn.BatchNorm2d(cout)
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(cout),
            )
        else:
            self.shortcut = nn.Identity()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet18(nn.Module):
    def __init__(self, width=64, classes=CLASSES):
        super().__init__()
        self.stem = nn.Sequential(conv3x3(3, width, 1), nn.BatchNorm2d(width), nn.ReLU())
        stages, cin = [], width
        for mult, stride in ((1, 1), (2, 2), (4, 2), (8, 2)):
            cout = width * mult
            stages.append(nn.Sequential(BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)))
            cin = cout
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8 * width, classes)

    def forward(self, x):
        x = self.stages(self.stem(x))
        return self.fc(torch.flatten(self.pool(x), 1))


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--width", type=positive_int, default=64, help="base width w (default 64)")
    p.add_argument("--batch", type=positive_int, default=128, help="batch size (default 128)")
    p.add_argument("--warmup", type=non_negative_int, default=2, help="untimed warm-up steps (default 2)")
    p.add_argument("--steps", type=positive_int, default=5, help="timed steps (default 5)")
    p.add_argument("--classes", type=positive_int, default=CLASSES, help=f"classes (default {CLASSES})")
    p.add_argument("--threads", type=positive_int, default=os.cpu_count() or 1,
                   help="torch intra-op threads (default: os.cpu_count())")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="where the step runs (cuda: the first GPU; default cpu)")
    p.add_argument("--json", action="store_true", help="print one JSON line and nothing else on stdout")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)

    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda, but this PyTorch sees no CUDA GPU "
              "(bash bench/setup-torch.sh --cuda installs the CUDA build)", file=sys.stderr)
        return 3
    device = torch.device(args.device)
    model = ResNet18(args.width, args.classes).to(device)
    model.train()
    params = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)

    gen = torch.Generator().manual_seed(SEED)
    images = torch.randn((args.batch, *IMAGE_SHAPE), generator=gen).to(device)
    labels = torch.randint(0, args.classes, (args.batch,), generator=gen).to(device)

    def log(msg):
        print(msg, file=sys.stderr if args.json else sys.stdout, flush=True)

    log(f"pytorch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"ResNet18 width {args.width}, {args.classes} classes, batch {args.batch}")
    log(f"params: {params:,} ({params})")

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        return loss.item()  # waits for the device, as the workbench's step does

    for i in range(args.warmup):
        t0 = time.perf_counter()
        loss = step()
        log(f"warmup {i + 1}/{args.warmup}: {time.perf_counter() - t0:.3f} s, loss {loss:.4f}")

    times = []
    for i in range(args.steps):
        t0 = time.perf_counter()
        loss = step()
        dt = time.perf_counter() - t0
        times.append(dt)
        log(f"step {i + 1}/{args.steps}: {dt:.3f} s ({args.batch / dt:.1f} images/s), loss {loss:.4f}")

    median = statistics.median(times)
    ips = args.batch / median
    if args.json:
        print(json.dumps({
            "framework": "pytorch",
            "version": torch.__version__,
            "threads": torch.get_num_threads(),
            "width": args.width,
            "batch": args.batch,
            "images_per_second": round(ips, 3),
            "median_step_seconds": round(median, 6),
            "params": params,
            "device": args.device,
            # ATen's vector kernels: AVX512, AVX2, ... (ATEN_CPU_CAPABILITY caps it).
            "aten_capability": torch.backends.cpu.get_cpu_capability(),
        }), flush=True)
    else:
        print(f"median step: {median:.4f} s -> {ips:.1f} images/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
