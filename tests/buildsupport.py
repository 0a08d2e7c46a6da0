"""Test support for source builds: real backend wheels, and project/sdist factories.

The build backends (setuptools, hatchling, flit-core, pdm-backend and what they need)
are fetched once from the public index into a test-data cache (``PYINST_TEST_DATA`` or
``~/.cache/pyinst-test-data``), then served by the loopback index like any test wheel.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import textwrap
from pathlib import Path

from helpers import IndexFile, find_python

BACKENDS = ["setuptools", "hatchling", "flit-core", "pdm-backend"]
#: what the backends ask for on top (hatchling's editables need ``editables``)
_FETCH = [*BACKENDS, "editables"]
#: the Pythons the build environments in the tests use (tomli is needed below 3.11)
BACKEND_PYTHONS = ["3.9", "3.13"]
_DATA_ROOT = Path(os.environ.get("PYINST_TEST_DATA")
                  or Path.home() / ".cache" / "pyinst-test-data")


def backend_index_files() -> dict[str, list[IndexFile]]:
    """name -> files of the backends and their dependencies, downloaded once."""
    return public_wheels("backends", _FETCH, BACKEND_PYTHONS)


def public_wheels(group: str, requested: list[str], pythons: list[str], *,
                  no_deps: bool = False) -> dict[str, list[IndexFile]]:
    """name -> files of what ``requested`` resolves to on each of ``pythons``, fetched
    from the public index once into the test-data cache, then served by the loopback
    index like any test wheel."""
    from pyinst import Config, Installer, Target
    from pyinst.cache import EntryLock

    data = _DATA_ROOT / group
    data.mkdir(parents=True, exist_ok=True)
    stamp = data / "contents.json"
    with EntryLock(data / ".lock"):
        if not stamp.exists() or json.loads(stamp.read_text()).get("requested") != requested:
            wheels: dict[str, str] = {}
            with Installer(Config(trust_env=True, cache_dir=data / "cache")) as inst:
                for minor in pythons:
                    target = Target.from_python(find_python(minor))
                    res = inst.resolve(requested, target, force_reinstall=True,
                                       no_deps=no_deps)
                    for prepared in inst.fetch(list(res)):
                        dest = data / prepared.path.name
                        if not dest.exists():
                            shutil.copyfile(prepared.path, dest)
                        wheels[dest.name] = prepared.pin.name
            shutil.rmtree(data / "cache", ignore_errors=True)
            stamp.write_text(json.dumps({"requested": requested, "wheels": wheels}, indent=1))
        contents: dict[str, str] = json.loads(stamp.read_text())["wheels"]
    out: dict[str, list[IndexFile]] = {}
    for filename, name in sorted(contents.items()):
        out.setdefault(name, []).append(IndexFile(data / filename))
    return out


# -- projects ------------------------------------------------------------------------

_BACKEND_TABLES = {
    "setuptools": ('["setuptools>=61"]', "setuptools.build_meta"),
    "hatchling": ('["hatchling"]', "hatchling.build"),
    "flit-core": ('["flit_core>=3.4"]', "flit_core.buildapi"),
    "pdm-backend": ('["pdm-backend"]', "pdm.backend"),
}


def make_project(root: Path, name: str, version: str, backend: str,
                 requires: tuple[str, ...] = ()) -> Path:
    """A small importable project built by ``backend``; its module says its version."""
    module = name.replace("-", "_")
    requires_toml, build_backend = _BACKEND_TABLES[backend]
    deps = ", ".join(json.dumps(r) for r in requires)
    root.mkdir(parents=True, exist_ok=True)
    extra = ""
    if backend == "hatchling":
        extra = f'\n[tool.hatch.build.targets.wheel]\npackages = ["src/{module}"]\n'
    elif backend == "setuptools":
        extra = '\n[tool.setuptools.packages.find]\nwhere = ["src"]\n'
    (root / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [build-system]
        requires = {requires_toml}
        build-backend = "{build_backend}"

        [project]
        name = "{name}"
        version = "{version}"
        description = "a test project"
        requires-python = ">=3.8"
        dependencies = [{deps}]
        """) + extra)
    pkg = root / ("src" if backend in ("hatchling", "setuptools", "pdm-backend") else "") / module
    if backend == "flit-core":
        pkg = root / module
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text(f'"""{name}."""\nVALUE = "{version}"\n')
    return root


# A PEP 517 backend in the project itself (backend-path): builds by hand, no
# dependencies, and appends every hook it runs to $PYINST_TEST_HOOK_LOG.
_TINY_BACKEND = '''
import base64, hashlib, json, os, zipfile

NAME, VERSION = {name!r}, {version!r}
DIST = NAME.replace("-", "_")


def _log(hook):
    path = os.environ.get("PYINST_TEST_HOOK_LOG")
    if path:
        with open(path, "a") as f:
            f.write(f"{{NAME}} {{hook}}\\n")


def _metadata():
    return f"Metadata-Version: 2.1\\nName: {{NAME}}\\nVersion: {{VERSION}}\\n"


def get_requires_for_build_wheel(config_settings=None):
    _log("get_requires_for_build_wheel")
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    _log("prepare_metadata_for_build_wheel")
    d = os.path.join(metadata_directory, f"{{DIST}}-{{VERSION}}.dist-info")
    os.makedirs(d)
    with open(os.path.join(d, "METADATA"), "w") as f:
        f.write(_metadata())
    return os.path.basename(d)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _log("build_wheel" + (" " + json.dumps(config_settings, sort_keys=True)
                          if config_settings else ""))
    if {fail!r}:
        print("tiny backend: the compiler exploded")
        raise SystemExit(3)
    filename = f"{{DIST}}-{{VERSION}}-py3-none-any.whl"
    files = {{
        f"{{DIST}}/__init__.py": f"VALUE = {{VERSION!r}}\\n",
        f"{{DIST}}-{{VERSION}}.dist-info/METADATA": _metadata(),
        f"{{DIST}}-{{VERSION}}.dist-info/WHEEL":
            "Wheel-Version: 1.0\\nGenerator: tiny\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
    }}
    record = []
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as zf:
        for path, text in files.items():
            data = text.encode()
            zf.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{{path}},sha256={{digest.decode()}},{{len(data)}}")
        record.append(f"{{DIST}}-{{VERSION}}.dist-info/RECORD,,")
        zf.writestr(f"{{DIST}}-{{VERSION}}.dist-info/RECORD", "\\n".join(record) + "\\n")
    return filename
'''


def _tiny_files(name: str, version: str, fail: bool) -> dict[str, str]:
    return {
        "pyproject.toml": '[build-system]\nrequires = []\nbuild-backend = "tiny_backend"\n'
                          'backend-path = ["."]\n',
        "tiny_backend.py": _TINY_BACKEND.format(name=name, version=version, fail=fail),
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
    }


def tiny_project(root: Path, name: str, version: str) -> Path:
    """A project directory with the in-tree backend (no index needed to build it)."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in _tiny_files(name, version, False).items():
        (root / rel).write_text(text)
    return root


def tiny_sdist(out_dir: Path, name: str, version: str, *, fail: bool = False) -> Path:
    """An sdist whose in-tree backend needs nothing from any index."""
    base = f"{name.replace('-', '_')}-{version}"
    files = _tiny_files(name, version, fail)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{base}.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for rel, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{base}/{rel}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path
