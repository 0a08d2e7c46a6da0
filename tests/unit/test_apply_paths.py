"""The per-file fast paths of linking agree with the general ones they skip."""

from __future__ import annotations

import csv
import io
import os

from hypothesis import given
from hypothesis import strategies as st

from pyinst.apply import _Writer, record_text
from pyinst.errors import InvalidWheel

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
    made = UnpackedWheel(root=Path("/c"), dist_info="a-1.dist-info", root_scheme="purelib",
                         files=files, scripts=())
    data = made.to_json()
    expected = {("purelib", "ns"), ("purelib", "mod.py"), ("scripts", "tool")}
    assert {tuple(t) for t in data["tops"]} == expected  # type: ignore[union-attr]
    assert UnpackedWheel.from_json(Path("/c"), data).tops == expected
    del data["tops"]  # a manifest written before they were kept
    assert UnpackedWheel.from_json(Path("/c"), data).tops == expected
