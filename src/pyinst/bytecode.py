"""Bytecode compilation, by the TARGET interpreter (its magic number, its optimisations).

Runs in subprocesses of the target interpreter, several at once, each fed a list of
files on stdin. Nothing is printed by this process: compileall's and py_compile's
output stays in the children, whose streams are captured and dropped. Files that do
not compile (a SyntaxError in a py2-only module, say) are skipped, as pip and uv do.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

_WORKER = """
import py_compile, sys
for line in sys.stdin:
    path = line.rstrip("\\n")
    if path:
        try:
            py_compile.compile(path, doraise=True)
        except Exception:
            pass
"""


def compile_files(python: str, files: Sequence[Path], *, workers: int) -> None:
    """Compile ``files`` to ``__pycache__`` with ``python`` (at most ``workers`` at once)."""
    todo = [str(f) for f in files if f.suffix == ".py"]
    if not todo:
        return
    n = max(1, min(workers, (len(todo) + 199) // 200))
    chunks = [todo[i::n] for i in range(n)]

    def run(chunk: list[str]) -> None:
        subprocess.run([python, "-I", "-c", _WORKER], input="\n".join(chunk), text=True,
                       capture_output=True, check=False)

    with ThreadPoolExecutor(max_workers=n, thread_name_prefix="pyinst-compile") as pool:
        list(pool.map(run, chunks))
