"""An install may write modules that pyinst itself would import: so everything an
install needs is imported before its first write.

A wheel of "sentinel" modules, each named like a module pyinst might import late (the
standard library's and its dependencies' top-level names), is installed into a plain
directory that is first on the installing process's ``sys.path``. Were any of them
imported after it was written, it would raise.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers import WheelSpec, build_wheel

NAMES = [
    # the standard library pyinst and its dependencies use
    "csv", "json", "hashlib", "base64", "io", "shutil", "tempfile", "zipfile", "tarfile",
    "configparser", "subprocess", "compileall", "py_compile", "importlib_metadata",
    "email", "textwrap", "contextlib", "dataclasses", "concurrent", "queue", "selectors",
    "signal", "stat", "fnmatch", "glob", "string", "struct", "zlib", "codecs", "locale",
    "platform", "sysconfig", "uuid", "datetime", "calendar", "time", "random", "bisect",
    "heapq", "operator", "functools", "itertools", "collections", "enum", "typing",
    "warnings", "logging", "traceback", "linecache", "tokenize", "inspect", "ast",
    "pickle", "copy", "weakref", "urllib", "http", "socket", "ssl", "netrc",
    # third-party top-level names
    "installer", "packaging", "resolvelib", "httpx", "httpcore", "h11", "anyio",
    "certifi", "idna", "sniffio", "build", "pyproject_hooks", "tomli", "tomli_w",
    "rich", "markdown_it", "mdurl", "pygments",
]

RUN = """
import sys
from pyinst import Config, Installer, Target
target = Target.directory(sys.argv[1], python=sys.executable)
with Installer(Config(index_urls=(), cache_dir=sys.argv[3])) as inst:
    result = inst.install([sys.argv[2]], target)
print("installed", result.installed)
"""


def test_nothing_is_imported_after_the_first_write(tmp_path: Path) -> None:
    files = {f"{n}.py": f"raise ImportError('sentinel {n} imported after the write')\n"
             for n in NAMES}
    files["sentinel_marker.py"] = "OK = True\n"
    wheel = build_wheel(WheelSpec("sentinel", "1.0", files=files,
                                  console_scripts={"sentinel-run": "sentinel_marker:main"}),
                        tmp_path / "w")
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    # the installing process sees the target first: anything imported from it after the
    # write would be a sentinel
    proc = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, "
                                                 f"{str(plugins)!r})\n" + RUN,
                           str(plugins), str(wheel), str(tmp_path / "cache")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "installed (('sentinel', '1.0'),)" in proc.stdout
    assert (plugins / "sentinel_marker.py").exists() and (plugins / "csv.py").exists()
