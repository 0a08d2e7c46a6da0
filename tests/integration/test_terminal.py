"""On a terminal, downloads draw progress bars; piped, the output is plain text."""

from __future__ import annotations

import base64
import os
import pty
import select
import subprocess
import sys
from pathlib import Path
from typing import Callable

from helpers import IndexFile, IndexServer, WheelSpec, build_wheel, run_cli

BAR = "\u2501"  # what rich's bar is drawn with


def _slow_index(tmp_path: Path, make_index: Callable[..., IndexServer]) -> IndexServer:
    noise = base64.b64encode(os.urandom(300_000)).decode()  # does not compress away
    wheel = build_wheel(WheelSpec("bulky", "1.0", files={"bulky/data.py": f"D = {noise!r}\n"}),
                        tmp_path / "w")
    index = make_index({"bulky": [IndexFile(wheel)]})
    index.chunk_delay = 0.08  # about 1.5 s for the whole file
    return index


def test_a_terminal_shows_a_progress_bar_during_a_slow_download(
        tmp_path: Path, make_index: Callable[..., IndexServer],
        venv_factory: Callable[[str], Path]) -> None:
    index = _slow_index(tmp_path, make_index)
    python = venv_factory("3.12")
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYINST_")}
    env.update(TERM="xterm-256color", COLUMNS="100", LINES="30",
               PYINST_CONFIG_FILE=os.devnull)
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen([sys.executable, "-m", "pyinst", "install", "-p", str(python),
                             "-i", index.url, "--no-cache", "bulky"],
                            stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    proc.wait(timeout=60)
    os.close(master)
    text = seen.decode("utf-8", "replace")
    assert proc.returncode == 0, text
    assert BAR in text and "bulky" in text and "\x1b[" in text
    assert "+ bulky==1.0" in text


def test_piped_output_is_plain(tmp_path: Path, make_index: Callable[..., IndexServer],
                               venv_factory: Callable[[str], Path]) -> None:
    index = _slow_index(tmp_path, make_index)
    python = venv_factory("3.12")
    proc = run_cli("install", "-p", str(python), "-i", index.url, "--no-cache", "bulky")
    assert proc.returncode == 0, proc.stderr
    both = proc.stdout + proc.stderr
    assert "\x1b[" not in both and BAR not in both
    assert proc.stdout.splitlines()[0].startswith("Resolved 1 package in ")
    assert " + bulky==1.0" in proc.stdout
