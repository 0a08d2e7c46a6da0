"""pyinst vs uv vs pip on the same local index, in one run.

    nox -s bench                         # the full run (5 runs of each case)
    nox -s bench -- --runs 1 --quick     # a smoke run

1. Builds (once) a mirror of the real wheels this workload needs on the target Python,
   resolved and downloaded from the public index by pyinst itself, and serves it as a
   simple index with PEP 658 sidecars on loopback (a separate process).
2. Installs the workload into fresh venvs with each tool, alternating the tools:
   cold cache and warm cache, with and without bytecode, plus resolution-only
   (--dry-run) cases on the mirror and, cold, on the public index.
3. Prints medians, the ratios pyinst/uv and pyinst/pip, peak RSS, the floor (``cp -al``
   of an installed tree) and the machine, and writes the table to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from pyinst import Pin

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
RESULTS = HERE / "results"
PUBLIC_INDEX = os.environ.get("PYINST_BENCH_PUBLIC_INDEX", "https://pypi.org/simple/")
WORKLOAD = [
    "sphinx", "black", "mypy", "pytest", "pytest-cov", "coverage", "nox", "pre-commit",
    "ipython", "requests", "rich", "typer", "pydantic", "scipy", "matplotlib", "sqlalchemy",
    "aiohttp",
]
QUICK_WORKLOAD = ["rich", "requests", "black"]
TOOLS = ("pyinst", "uv", "pip")

# The peak memory of a command and its child processes (pyinst's unpacking workers,
# pip's and uv's bytecode compilers), sampled every 20 ms over the process tree: the sum
# of RSS (at least the peak of its largest single process, what getrusage tells), which
# counts pages the processes share (the interpreter, its libraries) once per process,
# and the sum of PSS, which shares them out (Linux's smaps_rollup; RSS where it is not).
# Also the CPU time (user + system) of the command and every process it waited for:
# on a machine with few cores, what a tool does per second of CPU says more about
# where its wall time can go than the wall time does.
_WRAPPER = (
    "import os, resource, subprocess, sys, threading, time\n"
    "def tree(pid):\n"
    "    out = [pid]\n"
    "    try:\n"
    "        for t in os.listdir(f'/proc/{pid}/task'):\n"
    "            with open(f'/proc/{pid}/task/{t}/children') as f:\n"
    "                out += [q for c in f.read().split() for q in tree(int(c))]\n"
    "    except OSError:\n"
    "        pass\n"
    "    return out\n"
    "def rss(pid):\n"
    "    try:\n"
    "        with open(f'/proc/{pid}/statm') as f:\n"
    "            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') // 1024\n"
    "    except OSError:\n"
    "        return 0\n"
    "def pss(pid):\n"
    "    try:\n"
    "        with open(f'/proc/{pid}/smaps_rollup') as f:\n"
    "            return next(int(l.split()[1]) for l in f if l.startswith('Pss:'))\n"
    "    except (OSError, StopIteration):\n"
    "        return rss(pid)\n"
    "peak = [0, 0]\n"
    "t = time.perf_counter()\n"
    "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
    "def sample():\n"
    "    while p.poll() is None:\n"
    "        procs = tree(p.pid)\n"
    "        peak[0] = max(peak[0], sum(rss(q) for q in procs))\n"
    "        peak[1] = max(peak[1], sum(pss(q) for q in procs))\n"
    "        time.sleep(0.02)\n"
    "if os.path.exists('/proc/self/task'):\n"
    "    threading.Thread(target=sample, daemon=True).start()\n"
    "err = p.communicate()[1]\n"
    "dt = time.perf_counter() - t\n"
    "ru = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "rss_kb = max(peak[0], ru.ru_maxrss)\n"
    "sys.stderr.write(err.decode(errors='replace')[-2000:] if p.returncode else '')\n"
    "print(p.returncode, dt, rss_kb, peak[1] or rss_kb, ru.ru_utime + ru.ru_stime)\n"
)

def find_python(minor: str) -> Path:
    for d in sorted(Path("/root/.pyenv/versions").glob(f"{minor}.*")):
        if (d / "bin" / "python").exists():
            return d / "bin" / "python"
    found = shutil.which(f"python{minor}")
    if found:
        return Path(found)
    raise SystemExit(f"no Python {minor} found")


# -- the mirror ------------------------------------------------------------------------


def build_mirror(python: Path, workload: Sequence[str], mirror: Path) -> None:
    """Resolve the workload on the public index for ``python`` and mirror its wheels."""
    from pyinst import Config, Installer, Target

    stamp = mirror / "workload.json"
    if stamp.exists() and json.loads(stamp.read_text()) == {"python": str(python),
                                                           "workload": list(workload)}:
        return
    shutil.rmtree(mirror, ignore_errors=True)
    files = mirror / "files"
    files.mkdir(parents=True)
    target = Target.from_python(python)
    print(f"building the mirror for {target.describe()} ...", flush=True)
    with Installer(Config(index_urls=(PUBLIC_INDEX,), trust_env=True)) as inst:
        resolution = inst.resolve(workload, target)
    _mirror_pins(resolution, mirror)
    _write_root_page(mirror)
    stamp.write_text(json.dumps({"python": str(python), "workload": list(workload)}))
    size = sum(f.stat().st_size for f in files.iterdir()) / 1e6
    n = sum(1 for _ in (mirror / "simple").iterdir()) - 1
    print(f"mirror: {n} projects, {size:.0f} MB", flush=True)


def add_seed_to_mirror(python: Path, mirror: Path) -> None:
    """The newest pip for ``python`` in the mirror too, for the environment cases."""
    from pyinst import Config, Installer, Target

    if (mirror / "simple" / "pip").exists():
        return
    with Installer(Config(index_urls=(PUBLIC_INDEX,), trust_env=True)) as inst:
        # (the base interpreter has a pip of its own: ask for a file regardless)
        resolution = inst.resolve(["pip"], Target.from_python(python), force_reinstall=True)
    _mirror_pins(resolution, mirror)
    _write_root_page(mirror)


def _mirror_pins(pins: Iterable[Pin], mirror: Path) -> None:
    import httpx

    files = mirror / "files"
    with httpx.Client(timeout=120, follow_redirects=True, trust_env=True) as client:
        for pin in pins:
            assert pin.link is not None
            dest = files / pin.link.filename
            with client.stream("GET", pin.link.url) as resp, open(dest, "wb") as out:
                resp.raise_for_status()
                for chunk in resp.iter_bytes(1 << 20):
                    out.write(chunk)
            with zipfile.ZipFile(dest) as zf:
                meta = next(n for n in zf.namelist()
                            if n.count("/") == 1 and n.endswith(".dist-info/METADATA"))
                (files / (dest.name + ".metadata")).write_bytes(zf.read(meta))
            page = mirror / "simple" / pin.name
            page.mkdir(parents=True)
            digest = hashlib.sha256(dest.read_bytes()).hexdigest()
            md = hashlib.sha256((files / (dest.name + ".metadata")).read_bytes()).hexdigest()
            rp = (f' data-requires-python="{html.escape(pin.link.requires_python)}"'
                  if pin.link.requires_python else "")
            (page / "index.html").write_text(
                f'<!DOCTYPE html><html><body><a href="../../files/{dest.name}#sha256={digest}"'
                f'{rp} data-core-metadata="sha256={md}">{dest.name}</a></body></html>\n')


def _write_root_page(mirror: Path) -> None:
    names = sorted(p.name for p in (mirror / "simple").iterdir() if p.is_dir())
    (mirror / "simple" / "index.html").write_text(
        "<html><body>" + "".join(f'<a href="{n}/">{n}</a>' for n in names) + "</body></html>")


#: ``python -m http.server``, with room for every tool's connections: its listen backlog
#: of 5 drops the connections of a tool that opens dozens at once (uv), each costing a
#: 1-3 s retransmit; it made uv's cold runs look several times slower than they are
_SERVER = """
import functools, http.server, sys

class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 1024
    daemon_threads = True

class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

handler = functools.partial(Quiet, directory=sys.argv[2])
Server(("127.0.0.1", int(sys.argv[1])), handler).serve_forever()
"""


def serve(mirror: Path) -> tuple[subprocess.Popen[bytes], str]:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    proc = subprocess.Popen([sys.executable, "-c", _SERVER, str(port), str(mirror)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port}/simple/"


# -- running the tools ------------------------------------------------------------------


@dataclass
class Case:
    name: str
    cold: bool
    bytecode: bool = False
    dry_run: bool = False
    public: bool = False
    #: install from this PEP 751 lock instead of the requirements
    lock: Path | None = None
    samples: dict[str, list[Sample]] = field(default_factory=dict)


def uv_exe() -> str:
    beside = Path(sys.executable).parent / "uv"
    return str(beside) if beside.exists() else (shutil.which("uv") or "uv")


def command(tool: str, venv: Path, index: str, cache: Path, reqs: Sequence[str],
            case: Case) -> list[str]:
    py = str(venv / "bin" / "python")
    if tool == "pyinst":
        cmd = [str(Path(sys.executable).parent / "pyinst"), "install", "-q", "-p", py,
               "-i", index, "--cache-dir", str(cache)]
        cmd += ["--compile-bytecode"] if case.bytecode else []
    elif tool == "uv":
        cmd = [uv_exe(), "pip", "install", "-q", "--python", py,
               "--index-url", index, "--cache-dir", str(cache), "--no-config"]
        cmd += ["--compile-bytecode"] if case.bytecode else []
    else:
        cmd = [sys.executable, "-m", "pip", "--python", py, "install", "-q", "--isolated",
               "--disable-pip-version-check", "--index-url", index, "--cache-dir", str(cache)]
        cmd += [] if case.bytecode else ["--no-compile"]
    if case.dry_run:
        cmd.append("--dry-run")
    if case.lock is not None:
        return [*cmd, "-r", str(case.lock)]
    return cmd + list(reqs)


def compile_own_environment() -> None:
    """Bytecode for pyinst and pip themselves, as a pip install of them would have
    written (nox installs with uv, which does not, and a machine with
    PYTHONDONTWRITEBYTECODE set never writes it): otherwise every timed run of a Python
    tool compiles its own source first, which no user pays."""
    import compileall
    import sysconfig

    for key in ("purelib", "platlib"):
        compileall.compile_dir(sysconfig.get_paths()[key], quiet=1, workers=0)


class Sample(NamedTuple):
    seconds: float
    rss_kb: int  # summed over the processes
    pss_kb: int  # summed over the processes
    cpu_seconds: float  # user + system, the command and the processes it waited for


def measure(cmd: Sequence[str], cwd: Path) -> Sample:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIP_", "UV_", "VIRTUAL_ENV", "PYINST_"))}
    out = subprocess.run([sys.executable, "-c", _WRAPPER, *cmd], capture_output=True,
                         text=True, cwd=cwd, env=env, check=False)
    try:
        rc, seconds, rss, pss, cpu = out.stdout.split()
    except ValueError:
        raise SystemExit(f"could not run {' '.join(cmd)}:\n{out.stderr}") from None
    if rc != "0":
        raise SystemExit(f"command failed ({rc}): {' '.join(cmd)}\n{out.stderr}")
    return Sample(float(seconds), int(rss), int(pss), float(cpu))


def run_case(case: Case, runs: int, python: Path, index: str, reqs: Sequence[str],
             scratch: Path) -> None:
    warm_caches = {t: scratch / f"warm-cache-{t}" for t in TOOLS}
    if not case.cold:
        for tool in TOOLS:  # fill each tool's cache once
            venv = new_venv(python, scratch / "prime")
            measure(command(tool, venv, index, warm_caches[tool], reqs, case), scratch)
    for n in range(runs):
        order = TOOLS[n % 3:] + TOOLS[: n % 3]  # alternate who goes first
        for tool in order:
            venv = new_venv(python, scratch / "venv")
            cache = warm_caches[tool]
            if case.cold:
                cache = scratch / f"cold-cache-{tool}"
                shutil.rmtree(cache, ignore_errors=True)
            sample = measure(command(tool, venv, index, cache, reqs, case), scratch)
            case.samples.setdefault(tool, []).append(sample)
        print(f"  {case.name} run {n + 1}/{runs}: " + ", ".join(
            f"{t} {case.samples[t][-1].seconds:.2f}s" for t in TOOLS), flush=True)


def make_lock(python: Path, index: str, reqs: Sequence[str], scratch: Path) -> Path:
    """A PEP 751 lock of the workload, written by pyinst (uv and pip install it too)."""
    out = scratch / "pylock.toml"
    subprocess.run([str(Path(sys.executable).parent / "pyinst"), "lock", "-q", "-p",
                    str(python), "-i", index, "--cache-dir", str(scratch / "lock-cache"),
                    "-o", str(out), *reqs], check=True)
    return out


def new_venv(python: Path, path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    subprocess.run([str(python), "-m", "venv", "--without-pip", str(path)], check=True)
    return path


def floor_cp_al(python: Path, index: str, reqs: Sequence[str], scratch: Path) -> float:
    """``cp -al`` of a venv holding the installed workload: the floor for a warm install."""
    venv = new_venv(python, scratch / "floor-src")
    measure(command("pyinst", venv, index, scratch / "warm-cache-pyinst", reqs,
                    Case("floor", cold=False)), scratch)
    times = []
    for _ in range(3):
        dest = scratch / "floor-dst"
        shutil.rmtree(dest, ignore_errors=True)
        t = time.perf_counter()
        subprocess.run(["cp", "-al", str(venv), str(dest)], check=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


# -- environments with pip ------------------------------------------------------------

ENV_TOOLS = ("pyinst venv --seed", "uv venv --seed", "python -m venv")


def env_command(tool: str, python: Path, path: Path, index: str, cache: Path) -> list[str]:
    if tool.startswith("pyinst"):
        return [str(Path(sys.executable).parent / "pyinst"), "venv", str(path), "-q", "-p",
                str(python), "--seed", "-i", index, "--cache-dir", str(cache)]
    if tool.startswith("uv"):
        return [uv_exe(), "venv", str(path), "-q", "--python", str(python), "--seed",
                "--index-url", index, "--cache-dir", str(cache), "--no-config"]
    return [str(python), "-m", "venv", str(path)]  # ensurepip: pip's own code, no cache


def run_env_cases(runs: int, python: Path, index: str, scratch: Path
                  ) -> dict[str, dict[str, list[Sample]]]:
    """A fresh environment with pip in it: cold cache and warm cache, tools alternating."""
    out: dict[str, dict[str, list[Sample]]] = {}
    path = scratch / "env"
    for kind in ("cold", "warm"):
        caches = {t: scratch / f"env-cache-{kind}-{n}" for n, t in enumerate(ENV_TOOLS)}
        if kind == "warm":
            for tool in ENV_TOOLS:
                shutil.rmtree(path, ignore_errors=True)
                measure(env_command(tool, python, path, index, caches[tool]), scratch)
        samples = out.setdefault(kind, {})
        for n in range(runs):
            for tool in ENV_TOOLS[n % 3:] + ENV_TOOLS[: n % 3]:
                shutil.rmtree(path, ignore_errors=True)
                if kind == "cold":
                    shutil.rmtree(caches[tool], ignore_errors=True)
                samples.setdefault(tool, []).append(
                    measure(env_command(tool, python, path, index, caches[tool]), scratch))
            print(f"  environment with pip, {kind} run {n + 1}/{runs}: " + ", ".join(
                f"{t} {samples[t][-1].seconds:.2f}s" for t in ENV_TOOLS), flush=True)
    return out


def env_table(results: dict[str, dict[str, list[Sample]]]) -> list[str]:
    lines = ["", "A fresh virtual environment with pip in it (same mirror; `python -m venv` "
             "runs ensurepip, which has no cache):", "",
             "| case | " + " | ".join(ENV_TOOLS) + " | pyinst/uv | pyinst/venv |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for kind, samples in results.items():
        p, u, v = (statistics.median(x.seconds for x in samples[t]) for t in ENV_TOOLS)
        lines.append(f"| {kind} cache | {p:.2f} | {u:.2f} | {v:.2f} | {p / u:.2f} | "
                     f"{p / v:.2f} |")
    return lines


def startup_times() -> dict[str, float]:
    def best(cmd: list[str]) -> float:
        out = []
        for _ in range(7):
            t = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=True)
            out.append(time.perf_counter() - t)
        return min(out)

    pyinst = str(Path(sys.executable).parent / "pyinst")
    bare = best([sys.executable, "-c", "pass"])
    return {"pyinst --version": best([pyinst, "--version"]),
            "import pyinst": best([sys.executable, "-c", "import pyinst"]) - bare,
            "python -c pass": bare}


def tool_versions() -> dict[str, str]:
    def out(cmd: list[str]) -> str:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()

    return {"pyinst": out([str(Path(sys.executable).parent / "pyinst"), "--version"]),
            "uv": out([uv_exe(), "--version"]),
            "pip": out([sys.executable, "-m", "pip", "--version"]).split(" from ")[0]}


def machine() -> str:
    cpu = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, {cpu}"


def filesystem(path: Path) -> str:
    """The type (and, for ext4, whether it keeps a journal) of the filesystem ``path`` is on:
    on ext4 without a journal, allocating an inode skips every inode freed in the last
    minutes one by one, so the runs' own clean-up makes the next runs' mkdirs costly."""
    try:
        mounts = [line.split() for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return "?"
    real = str(path.resolve())
    best = max((m for m in mounts if len(m) > 2 and (real == m[1] or real.startswith(
        m[1].rstrip("/") + "/"))), key=lambda m: len(m[1]), default=None)
    if best is None:
        return "?"
    kind = best[2]
    if kind == "ext4":
        dev = Path(best[0]).name
        journal = any(Path("/proc/fs/jbd2").glob(f"{dev}-*"))
        kind += " (journal)" if journal else " (no journal)"
    return f"{kind} at {best[1]}"


def table(cases: Sequence[Case], python: Path, floor: float, startup: dict[str, float],
          runs: int, reqs: Sequence[str],
          envs: dict[str, dict[str, list[Sample]]] | None = None,
          scratch: Path | None = None) -> str:
    med = {(c.name, t): statistics.median(x.seconds for x in c.samples[t])
           for c in cases for t in TOOLS if c.samples.get(t)}
    rss = {(c.name, t): statistics.median(x.rss_kb for x in c.samples[t]) / 1024
           for c in cases for t in TOOLS if c.samples.get(t)}
    pss = {(c.name, t): statistics.median(x.pss_kb for x in c.samples[t]) / 1024
           for c in cases for t in TOOLS if c.samples.get(t)}
    cpu = {(c.name, t): statistics.median(x.cpu_seconds for x in c.samples[t])
           for c in cases for t in TOOLS if c.samples.get(t)}
    lines = [
        f"# pyinst vs uv vs pip ({time.strftime('%Y-%m-%d')})",
        "",
        f"- machine: {machine()}",
        f"- target: {python} ({subprocess.run([str(python), '-V'], capture_output=True, text=True).stdout.strip()})",
        "- tools: " + ", ".join(f"{k} = {v}" for k, v in tool_versions().items()),
        f"- workload ({len(reqs)} requirements): {' '.join(reqs)}",
        f"- venvs and caches on: {filesystem(scratch) if scratch else '?'}",
        f"- {runs} runs per case, tools alternating; medians; wall seconds; peak memory in "
        "MB summed over the tool's processes (pyinst's unpacking workers, the compilers): "
        "RSS, which counts the pages they share once per process, and PSS, which shares "
        "them out; CPU seconds (user + system) of the tool and the processes it waited "
        "for",
        "- each run installs into a fresh venv; warm runs reuse each tool's own cache (for "
        "pyinst that includes its remembered resolutions); pyinst's and pip's own "
        "bytecode is compiled beforehand, as a pip install of them would",
        "",
        "| case | pyinst | uv | pip | pyinst/uv | pyinst/pip | RSS pyinst | RSS uv | RSS pip "
        "| PSS pyinst | PSS uv | PSS pip | CPU pyinst | CPU uv | CPU pip |",
        "| --- |" + " ---: |" * 14,
    ]
    for c in cases:
        p, u, q = (med.get((c.name, t)) for t in TOOLS)
        if p is None or u is None or q is None:
            continue
        lines.append(
            f"| {c.name} | {p:.2f} | {u:.2f} | {q:.2f} | {p / u:.2f} | {p / q:.2f} | "
            + " | ".join(f"{m[(c.name, t)]:.0f}" for m in (rss, pss) for t in TOOLS) + " | "
            + " | ".join(f"{cpu[(c.name, t)]:.2f}" for t in TOOLS) + " |")
    lines += env_table(envs) if envs else []
    if floor:
        lines += ["", f"Floor for a warm install (`cp -al` of the installed venv): {floor:.2f}s"]
    def ms(seconds: float) -> str:  # a difference of two timings can come out below 0
        return f"{seconds * 1000:.0f} ms" if seconds >= 0.0005 else "<1 ms"

    lines += ["", "Start-up: " + ", ".join(f"`{k}` {ms(v)}" for k, v in startup.items())]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--python", default="3.12", help="target Python (3.X)")
    ap.add_argument("--quick", action="store_true", help="a small workload, for a smoke run")
    ap.add_argument("--only-envs", action="store_true",
                    help="run only the environment-creation cases")
    ap.add_argument("--only", metavar="REGEX",
                    help="run only the install cases whose name matches REGEX (no "
                         "environment or public-index cases)")
    ap.add_argument("--no-public", action="store_true",
                    help="skip the resolution case against the public index")
    ap.add_argument("--scratch", metavar="DIR", type=Path,
                    help="where the venvs and caches go (default: the system's temporary "
                         "directory); e.g. /dev/shm, to leave the disk out of it")
    args = ap.parse_args(argv)
    compile_own_environment()
    python = find_python(args.python)
    reqs = QUICK_WORKLOAD if args.quick else WORKLOAD
    mirror = WORK / ("mirror-quick" if args.quick else "mirror") / args.python
    build_mirror(python, reqs, mirror)
    add_seed_to_mirror(python, mirror)
    server, index = serve(mirror)
    scratch = Path(tempfile.mkdtemp(prefix="pyinst-bench-", dir=args.scratch))
    lock = make_lock(python, index, reqs, scratch)
    cases = [
        Case("install, cold cache", cold=True),
        Case("install, warm cache", cold=False),
        Case("install, cold cache, bytecode", cold=True, bytecode=True),
        Case("install, warm cache, bytecode", cold=False, bytecode=True),
        Case("resolve only (--dry-run), warm", cold=False, dry_run=True),
        Case("install from pylock.toml, cold cache", cold=True, lock=lock),
        Case("install from pylock.toml, warm cache", cold=False, lock=lock),
    ]
    if args.only_envs:
        cases = []
    if args.only:
        import re

        cases = [c for c in cases if re.search(args.only, c.name)]
    envs = None
    floor = 0.0
    try:
        if not args.only:
            print("environment with pip ...", flush=True)
            envs = run_env_cases(args.runs, python, index, scratch)
        for case in cases:
            print(f"{case.name} ...", flush=True)
            run_case(case, args.runs, python, index, reqs, scratch)
        if not args.no_public and not args.only_envs and not args.only:
            public = Case("resolve only, public index, jupyterlab, cold", cold=True,
                          dry_run=True, public=True)
            print(f"{public.name} ...", flush=True)
            run_case(public, args.runs, python, PUBLIC_INDEX, ["jupyterlab"], scratch)
            cases.append(public)
        if cases and not args.only:
            floor = floor_cp_al(python, index, reqs, scratch)
    finally:
        server.terminate()
        server.wait()
    report = table(cases, python, floor, startup_times(), args.runs, reqs, envs,
                   scratch=scratch)
    print()
    print(report)
    RESULTS.mkdir(exist_ok=True)
    name = ("latest-some.md" if args.only else "latest-envs.md" if args.only_envs else
            "latest-quick.md" if args.quick else "latest.md")
    (RESULTS / name).write_text(report)
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
