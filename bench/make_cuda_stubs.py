#!/usr/bin/env python3
"""Build no-op stand-ins for the CUDA libraries that a PyPI (CUDA) torch wheel links to.

PyPI only serves the CUDA build of torch for Linux x86_64; its shared libraries
(even libtorch_cpu.so) have DT_NEEDED entries for libcudart, libcublas, libcudnn,
libnccl, ... which normally come from ~3 GB of nvidia-* wheels.  For CPU-only
benchmarking none of that code is ever executed, so this script scans the
installed torch package, collects every symbol it imports from a CUDA library
that is not present, and compiles one tiny stub library per missing SONAME
(with the same symbol versions).  Every stub function returns 100
(cudaErrorNoDevice / CUDA_ERROR_NO_DEVICE), and the *ErrorString / *StatusString
functions return a static message, so torch.cuda.is_available() is simply False.

The stubs are written into torch/lib (which is on every torch library's RPATH as
$ORIGIN), together with a marker file CUDA_STUBS.txt listing them.

usage: make_cuda_stubs.py [--check] TORCH_PACKAGE_DIR
"""
import ctypes
import os
import re
import subprocess
import sys
import tempfile

ERROR_STRING_RE = re.compile(r"(Error(String|Name)|StatusString|GetErrorString|GetLastError$)")
UNVERSIONED_PREFIXES = [  # unversioned imports -> library that provides them
    ("cuFile", "libcufile.so.0"),
    ("cusparseLt", "libcusparseLt.so.0"),
    ("nccl", "libnccl.so.2"),
    ("nvshmem", "libnvshmem_host.so.3"),
    ("cupti", "libcupti.so.13"),
]
DRIVER_RE = re.compile(r"^cu[A-Z]")  # CUDA driver API (libcuda.so.1)


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def torch_libs(torch_dir):
    libdir = os.path.join(torch_dir, "lib")
    out = []
    for f in sorted(os.listdir(libdir)):
        p = os.path.join(libdir, f)
        if ".so" in f and os.path.isfile(p) and not os.path.islink(p) and not is_stub(p):
            out.append(p)
    for f in sorted(os.listdir(torch_dir)):
        if f.startswith("_C") and f.endswith(".so"):
            out.append(os.path.join(torch_dir, f))
    return out


def is_stub(path):
    try:
        return "deepreduce-cuda-stub" in run(["readelf", "-p", ".comment", path])
    except subprocess.CalledProcessError:
        return False


def system_has(soname):
    try:
        ctypes.CDLL(soname)
        return True
    except OSError:
        return False


def main():
    args = sys.argv[1:]
    check_only = "--check" in args
    args = [a for a in args if a != "--check"]
    if len(args) != 1:
        sys.exit(__doc__)
    torch_dir = os.path.abspath(args[0])
    libdir = os.path.join(torch_dir, "lib")
    libs = torch_libs(torch_dir)
    present = {os.path.basename(p) for p in os.listdir(libdir)}

    needed, ver_to_file, undef, defined = set(), {}, {}, set()
    for lib in libs:
        dyn = run(["readelf", "-d", "-W", lib])
        needed |= set(re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", dyn))
        vers = run(["readelf", "-V", "-W", lib])
        cur = None
        for line in vers.splitlines():
            m = re.search(r"File: (\S+)", line)
            if m:
                cur = m.group(1)
            m = re.search(r"Name: (\S+)\s+Flags", line)
            if m and cur:
                ver_to_file[m.group(1)] = cur
        for line in run(["readelf", "--dyn-syms", "-W", lib]).splitlines():
            p = line.split()
            if len(p) < 8 or not p[0].endswith(":"):
                continue
            name, _, ver = p[7].partition("@")
            ver = ver.lstrip("@")
            if p[6] == "UND":
                if p[4] != "WEAK" and name not in undef:
                    undef[name] = (p[3], ver, os.path.basename(lib))
            else:
                defined.add(name)

    missing = sorted(
        s for s in needed
        if s not in present and s not in {os.path.basename(l) for l in libs} and not system_has(s)
    )
    if check_only:
        print("missing libraries:", " ".join(missing) or "(none)")
        return 0 if not missing else 1
    if not missing:
        print("make_cuda_stubs: nothing to do (no missing libraries)")
        return 0

    per_lib = {m: {} for m in missing}  # soname -> {symbol: (type, version)}
    unknown = []
    for name, (typ, ver, who) in sorted(undef.items()):
        if name in defined:
            continue
        target = None
        if ver and ver_to_file.get(ver) in per_lib:
            target = ver_to_file[ver]
        elif not ver:
            if name.startswith(("Py", "_Py")):
                continue  # provided by the interpreter
            for prefix, so in UNVERSIONED_PREFIXES:
                if name.startswith(prefix) and so in per_lib:
                    target = so
                    break
            else:
                if DRIVER_RE.match(name) and "libcuda.so.1" in per_lib:
                    target = "libcuda.so.1"
        if target is None:
            if not ver:
                unknown.append(f"{name} (needed by {who})")
            continue
        per_lib[target][name] = (typ, ver)
    if unknown:
        print("make_cuda_stubs: warning: unresolved symbols not stubbed:", *unknown, sep="\n  ")

    written = []
    with tempfile.TemporaryDirectory() as tmp:
        for so, syms in per_lib.items():
            src = os.path.join(tmp, so + ".c")
            vs = os.path.join(tmp, so + ".map")
            with open(src, "w") as f:
                f.write('__asm__(".section .comment\\n.string \\"deepreduce-cuda-stub\\"\\n.previous");\n')
                f.write('static const char msg[] = "CUDA is not available (CPU-only stub library)";\n')
                for name, (typ, _) in sorted(syms.items()):
                    if typ == "OBJECT":
                        f.write(f"char {name}[256];\n")
                    elif ERROR_STRING_RE.search(name):
                        f.write(f"const char *{name}(void) {{ return msg; }}\n")
                    else:
                        f.write(f"long {name}(void) {{ return 100; }}\n")
            by_ver = {}
            for name, (_, ver) in syms.items():
                by_ver.setdefault(ver, []).append(name)
            # Named version nodes only: symbols not listed in the script (the
            # unversioned imports) stay exported with the base version.
            with open(vs, "w") as f:
                for ver, names in sorted(by_ver.items()):
                    if ver:
                        f.write(f"{ver} {{ global: {'; '.join(sorted(names))}; }};\n")
            dst = os.path.join(libdir, so)
            cmd = ["cc", "-shared", "-fPIC", "-O0", "-fno-builtin", "-w", "-o", dst, src,
                   f"-Wl,-soname,{so}"]
            if os.path.getsize(vs):
                cmd.append(f"-Wl,--version-script={vs}")
            subprocess.run(cmd, check=True)
            written.append(f"{so}\t{len(syms)} symbols")
    with open(os.path.join(libdir, "CUDA_STUBS.txt"), "w") as f:
        f.write("No-op CUDA stand-ins made by bench/make_cuda_stubs.py (CPU-only use):\n")
        f.write("\n".join(written) + "\n")
    print("make_cuda_stubs: wrote", len(written), "stub libraries into", libdir)
    for w in written:
        print("  " + w)
    return 0


if __name__ == "__main__":
    sys.exit(main())
