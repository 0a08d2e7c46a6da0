"""Fuzzing the parsers that read untrusted text: they answer with a `PyinstError` (or a
result), never with any other exception."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.tags import Tag
from packaging.version import Version

from pyinst.config import BinaryPolicy
from pyinst.errors import PyinstError
from pyinst.evaluate import evaluate_links, tag_ranks
from pyinst.index.parse import parse_json_page, parse_page
from pyinst.models import Link
from pyinst.reqfile import parse_requirement, parse_requirements_file, script_metadata

_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["files", "meta", "url", "filename", "hashes", "yanked", "size",
                         "requires-python", "core-metadata", "api-version", "name", "x"]),
        inner, max_size=5),
    max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(_JSONISH)
def test_json_index_pages(data: object) -> None:
    with contextlib.suppress(PyinstError):
        parse_json_page(json.dumps(data).encode(), url="https://i.example/simple/p/")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.sampled_from(["text/html", "application/json", "",
                                               "application/vnd.pypi.simple.v1+json"]))
def test_any_page_any_content_type(body: str, content_type: str) -> None:
    with contextlib.suppress(PyinstError):
        parse_page(body.encode(), url="https://i.example/simple/p/", content_type=content_type)


_REQ_ALPHABET = st.sampled_from([*"abcXYZ019-_.[]()<>=!~;@:/ '\"#,*\\\t",
                                 "python_version", " and ", " or ", "extra", "git+", "file:",
                                 "--hash=sha256:", "-e ", "-r ", "==", "://"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_REQ_ALPHABET, max_size=25).map("".join))
def test_requirement_strings(text: str) -> None:
    with contextlib.suppress(PyinstError):
        parse_requirement(text, base_dir=Path("/nonexistent-base"))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(_REQ_ALPHABET, max_size=12).map("".join), max_size=8))
def test_requirements_files(lines: list[str]) -> None:
    text = "\n".join(lines)
    with contextlib.suppress(PyinstError):
        parse_requirements_file("/nonexistent/r.txt", read=lambda _p: text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["pkg", "-", "1.0", "py3", "none", "any", "cp312", "x",
                                 "linux_x86_64", ".", "_", "+", "!", ".whl", ".tar.gz",
                                 ".zip", "manylinux_2_17_x86_64"]), max_size=12).map("".join))
def test_file_names_on_index_pages(filename: str) -> None:
    link = Link.from_url(f"https://i.example/f/{filename}")
    ranks = tag_ranks([Tag("py3", "none", "any"), Tag("cp312", "cp312", "linux_x86_64")])
    evaluate_links("pkg", [link], ranks=ranks, python_version=Version("3.12"),  # type: ignore[arg-type]
                   binary=BinaryPolicy())


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(["# /// script\n", "# ///\n", "# dependencies = [\"a\"]\n",
                                 "# requires-python = 3\n", "#\n", "x = 1\n", "# /// other\n",
                                 "# [tool]\n", "# dependencies = 5\n"]), max_size=10))
def test_inline_script_metadata(lines: list[str]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        script = Path(d) / "s.py"
        script.write_text("".join(lines))
        with contextlib.suppress(PyinstError):
            script_metadata(script)
