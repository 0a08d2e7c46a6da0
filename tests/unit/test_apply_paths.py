"""The per-file fast paths of linking agree with the general ones they skip."""

from __future__ import annotations

import csv
import io
import os

from hypothesis import given
from hypothesis import strategies as st

from pyinst.apply import _Writer
from pyinst.errors import InvalidWheel
from pyinst.unpacked import plain_paths, record_text

_field = st.text(alphabet=st.sampled_from(list('ab/.,"\r\n é=-_')), max_size=12)


@given(st.lists(st.tuples(_field, _field, _field), min_size=1, max_size=6))
def test_record_text_is_what_csv_writes(rows: list[tuple[str, str, str]]) -> None:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    assert record_text(rows) == buf.getvalue()


class _Scheme:
    """Just enough of a `_Writer` for `_dest`: a scheme of one root."""

    def __init__(self, root: str) -> None:
        self._scheme = {"purelib": root}


@given(st.text(alphabet=st.sampled_from(list("ab./")), min_size=1, max_size=12))
def test_destinations_are_normalised_paths_inside_the_root(path: str) -> None:
    root = "/t/site"
    full = os.path.normpath(root + os.sep + path)
    try:
        got = _Writer._dest(_Scheme(root), "purelib", path)  # type: ignore[arg-type]
    except InvalidWheel:
        assert not full.startswith(root + os.sep)
    else:
        assert got == full and got.startswith(root + os.sep)


def test_manifest_top_level_names_are_kept_and_worked_out_for_older_manifests(
        tmp_path: object) -> None:
    from pathlib import Path

    from pyinst.unpacked import UnpackedFile, UnpackedWheel

    files = (UnpackedFile("purelib", "ns/a/__init__.py", "sha256=x", 1, False),
             UnpackedFile("purelib", "mod.py", "sha256=y", 1, False),
             UnpackedFile("scripts", "tool", "sha256=z", 1, True))
    made = UnpackedWheel.from_files(Path("/c"), "a-1.dist-info", "purelib", files, ())
    data = made.to_json()
    expected = {("purelib", "ns"), ("purelib", "mod.py"), ("scripts", "tool")}
    assert {tuple(t) for t in data["tops"]} == expected  # type: ignore[union-attr]
    back = UnpackedWheel.from_json(Path("/c"), data)
    assert back.tops == expected and back.files == list(files)
    # a manifest of the first format (a row per file, no top-level names) still reads
    old = {"format": 1, "dist_info": "a-1.dist-info", "root_scheme": "purelib",
           "files": [list(f) for f in files], "scripts": []}
    assert UnpackedWheel.from_json(Path("/c"), old).tops == expected
    assert UnpackedWheel.from_json(Path("/c"), old).files == list(files)


@given(st.lists(st.text(alphabet=st.sampled_from(list("ab./\n")), max_size=8), max_size=4))
def test_paths_are_taken_as_plain_exactly_when_they_need_no_normalising(
        paths: list[str]) -> None:
    root = "/t/site"
    if plain_paths(paths):
        for path in paths:  # what the fast path writes is what `_dest` would
            assert root + "/" + path == _Writer._dest(_Scheme(root), "purelib", path)  # type: ignore[arg-type]
    # and nothing is sent the slow way that did not need it
    assert plain_paths(paths) == all(os.path.normpath(root + "/" + path) == root + "/" + path
                                      for path in paths)


def test_dot_files_are_plain_and_dot_components_are_not() -> None:
    assert plain_paths(["sphinx/locale/.tx/config", ".hidden", "a/..b", "a/b."])
    for odd in ("a/./b", "a/../b", "./a", "a/.", "..", "a//b", "/a", "a/", ""):
        assert not plain_paths(["ok.py", odd]), odd


#: (no lone carriage return: csv leaves it unquoted, in RECORD as in any CSV)
_name = st.text(alphabet=st.sampled_from(list('ab/.,"\n é')), min_size=1, max_size=10)


@given(st.lists(st.tuples(st.sampled_from(["purelib", "data", "scripts"]), _name,
                          st.integers(0, 99), st.booleans()), max_size=6,
                unique_by=lambda f: (f[0], f[1])))
def test_manifest_columns_give_back_every_file(rows: list[tuple[str, str, int, bool]]) -> None:
    import json
    from pathlib import Path

    from pyinst.unpacked import UnpackedFile, UnpackedWheel

    files = [UnpackedFile(scheme, path, f"sha256={size}", size, ex)
             for scheme, path, size, ex in rows]
    made = UnpackedWheel.from_files(Path("/c"), "a-1.dist-info", "purelib", files, ())
    back = UnpackedWheel.from_json(Path("/c"), json.loads(json.dumps(made.to_json())))
    assert sorted(back.files) == sorted(files)
    for group in back.groups:  # each scheme's RECORD rows, ready to be written
        assert list(csv.reader(io.StringIO(group.record, newline=""))) == [
            [f.path, f.hash, str(f.size)] for f in files if f.scheme == group.scheme]


def _member_path_the_long_way(base: str, rel: str) -> str | None:
    import re

    full = os.path.normpath(os.path.join(base, rel))
    if not full.startswith(base + os.sep) or re.match(r"^[A-Za-z]:", rel) \
            or rel.startswith("/") or ".." in rel.split("/"):
        return None
    return full


@given(st.text(alphabet=st.sampled_from(list("aC:./")), max_size=12))
def test_unpacking_places_a_member_where_normpath_would(rel: str) -> None:
    from pyinst.unpack import member_path

    assert member_path("/c/entry/purelib", rel) == _member_path_the_long_way(
        "/c/entry/purelib", rel)


def test_unpacking_refuses_members_outside_their_scheme() -> None:
    from pyinst.unpack import member_path

    base = "/c/entry/purelib"
    assert member_path(base, "pkg/.tx/config") == base + "/pkg/.tx/config"
    assert member_path(base, "pkg//mod.py") == base + "/pkg/mod.py"
    for outside in ("../evil", "pkg/../../evil", "/etc/passwd", "C:evil", ""):
        assert member_path(base, outside) is None, outside
