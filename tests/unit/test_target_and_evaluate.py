from __future__ import annotations

import sys
from pathlib import Path

from packaging.tags import sys_tags
from packaging.version import Version

from pyinst.config import BinaryPolicy
from pyinst.evaluate import evaluate_links, tag_ranks
from pyinst.models import Link
from pyinst.target import Interpreter, Target


def test_tags_match_packaging_for_the_running_interpreter() -> None:
    target = Target.from_python(sys.executable)
    assert list(target.tags) == list(sys_tags())


def test_tags_for_another_platform_from_probe_data() -> None:
    data = {"executable": "/x/python", "version": [3, 9, 18], "implementation": "cpython",
            "prefix": "/x", "base_prefix": "/y", "markers": {}, "platform": "linux-aarch64",
            "maxsize_64": True, "libc": ["glibc", "2.28"], "gil_disabled": False,
            "py_debug": False, "soabi": "", "mac_ver": ""}
    interp = Interpreter.from_probe(data)
    assert interp.platforms[:3] == ("linux_aarch64", "manylinux_2_28_aarch64",
                                    "manylinux_2_27_aarch64")
    assert "manylinux2014_aarch64" in interp.platforms
    assert not any("manylinux1" in p for p in interp.platforms)  # 2_17 is aarch64's floor
    assert str(interp.tags[0]) == "cp39-cp39-linux_aarch64"
    assert interp.is_venv


def _link(name: str, rp: str | None = None) -> Link:
    return Link.from_url(f"https://i.example/{name}#sha256=00", requires_python=rp)


def test_evaluation_ranks_and_reasons() -> None:
    target = Target.from_python(sys.executable)
    v = target.interpreter.python_version
    links = [
        _link("p-1.0-py3-none-any.whl"),
        _link(f"p-1.0-cp{v.major}{v.minor}-cp{v.major}{v.minor}-manylinux_2_17_x86_64.whl"),
        _link("p-2.0-py3-none-any.whl", rp=">=99"),
        _link("p-2.0.tar.gz"),
        _link("p-3.0-cp27-cp27m-win32.whl"),
        _link("other-1.0-py3-none-any.whl"),
        _link("p-4.0-py36+-none-any.whl"),  # seen on the public index: not a valid tag
    ]
    ev = evaluate_links("p", links, ranks=tag_ranks(target.tags), python_version=v,  # type: ignore[arg-type]
                        binary=BinaryPolicy())
    best = ev.best_by_version()
    assert sorted(best) == [Version("1.0"), Version("2.0")]
    assert "manylinux" in best[Version("1.0")].link.filename  # the more specific tag wins
    assert best[Version("2.0")].link.filename == "p-2.0.tar.gz"  # only the sdist fits
    reasons = sorted(r for _, r in ev.rejected)
    assert reasons == ["incompatible tags: cp27-cp27m-win32", "invalid wheel file name",
                       "requires Python >=99"]
    wheels_only = BinaryPolicy(only_binary=frozenset({":all:"}))
    none = evaluate_links("p", links[2:4], ranks=tag_ranks(target.tags), python_version=v,  # type: ignore[arg-type]
                          binary=wheels_only)
    assert "every file requires Python >=99" in none.explain(v)
    sdist_only = evaluate_links("p", links[3:4], ranks=tag_ranks(target.tags),  # type: ignore[arg-type]
                                python_version=v, binary=wheels_only)
    assert sdist_only.explain(v) == ("only source distributions are offered, and "
                                     "--only-binary refuses them")


def test_externally_managed_only_for_the_interpreters_own_environment(tmp_path: Path) -> None:
    from pyinst.target import probe_interpreter

    from helpers import find_python

    data = probe_interpreter(find_python("3.12"))
    data["default_paths"] = {**data["default_paths"], "stdlib": str(tmp_path)}
    interp = Interpreter.from_probe(data)
    target = Target._of(interp, "environment", None)
    assert target.externally_managed() is None  # no marker file
    (tmp_path / "EXTERNALLY-MANAGED").write_text(
        "[externally-managed]\nError=To install Python packages system-wide,\n"
        " use the distribution's packages or a virtual environment.\n")
    message = target.externally_managed()
    assert message is not None and message.startswith("To install Python packages")
    # a prefix, a re-rooted tree or a plain directory are not that environment
    assert Target._of(interp, "prefix", None).externally_managed() is None
    assert target.variant(root=tmp_path / "stage").externally_managed() is None


def test_interpreter_facts_are_remembered_while_the_environment_is_unchanged(
        tmp_path: Path) -> None:
    """With a cache, the second look at an environment runs no probe: a planted value in
    the remembered entry comes back. Recreating the venv in place with the same settings
    still hits; changing its settings (pyvenv.cfg) probes afresh."""
    import json
    import shutil

    from helpers import make_venv

    cache = tmp_path / "cache"
    venv = tmp_path / "venv"
    python = make_venv(venv, "3.12")
    first = Target.from_python(python, cache_dir=cache)
    (entry,) = (cache / "interpreters-v1").glob("*/*.json")
    data = json.loads(entry.read_text())
    assert data["prefix"] == str(venv)
    data["markers"]["platform_release"] = "planted"
    entry.write_text(json.dumps(data))
    assert Target.from_python(python, cache_dir=cache).markers["platform_release"] == "planted"
    assert first.markers["platform_release"] != "planted"

    shutil.rmtree(venv)
    make_venv(venv, "3.12")
    assert Target.from_python(python, cache_dir=cache).markers["platform_release"] == "planted"

    cfg = venv / "pyvenv.cfg"
    cfg.write_text(cfg.read_text().replace("include-system-site-packages = false",
                                           "include-system-site-packages = true"))
    again = Target.from_python(python, cache_dir=cache)
    assert again.markers["platform_release"] == first.markers["platform_release"]
    assert len(list((cache / "interpreters-v1").glob("*/*.json"))) == 2


def test_a_damaged_remembered_probe_is_replaced(tmp_path: Path) -> None:
    from helpers import make_venv

    cache = tmp_path / "cache"
    python = make_venv(tmp_path / "venv", "3.12")
    first = Target.from_python(python, cache_dir=cache)
    (entry,) = (cache / "interpreters-v1").glob("*/*.json")
    for damage in ("{not json", "[]", '{"version": [3, 12, 0]}'):
        entry.write_text(damage)
        assert Target.from_python(python, cache_dir=cache).markers == first.markers
        assert entry.read_text().startswith("{\"executable\"")
