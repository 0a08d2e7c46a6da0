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
