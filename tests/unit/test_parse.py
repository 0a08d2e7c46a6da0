from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyinst.errors import IndexPageError
from pyinst.index.parse import parse_html_page, parse_page

PAGE = b"""<!DOCTYPE html><html><body>
<a href="../../files/a-1.0-py3-none-any.whl#sha256=ABCD" data-requires-python="&gt;=3.8"
   data-core-metadata="sha256=beef">a-1.0-py3-none-any.whl</a>
<a href="https://other.example/a-0.9.tar.gz" data-yanked>a-0.9.tar.gz</a>
<a href="a-0.8-py3-none-any.whl" data-dist-info-metadata="true" data-yanked="bad">x</a>
<a>no href</a>
</body></html>"""


def test_html_page_links_hashes_metadata_and_yanked() -> None:
    links = parse_page(PAGE, url="https://idx.example/simple/a/", content_type="text/html")
    assert [lk.filename for lk in links] == ["a-1.0-py3-none-any.whl", "a-0.9.tar.gz",
                                             "a-0.8-py3-none-any.whl"]
    first, second, third = links
    assert first.url == "https://idx.example/files/a-1.0-py3-none-any.whl"
    assert first.hashes == {"sha256": "abcd"}
    assert first.requires_python == ">=3.8"
    assert first.metadata_hashes == {"sha256": "beef"} and first.yanked is None
    assert second.yanked == "" and second.metadata_hashes is None
    assert third.url == "https://idx.example/simple/a/a-0.8-py3-none-any.whl"
    assert third.metadata_hashes == {} and third.yanked == "bad"


def test_base_href_is_honoured() -> None:
    page = b'<html><head><base href="https://cdn.example/x/"></head><a href="f-1.0.tar.gz">f</a>'
    (link,) = parse_page(page, url="https://idx.example/simple/f/", content_type="text/html")
    assert link.url == "https://cdn.example/x/f-1.0.tar.gz"


def test_json_page() -> None:
    data = {"meta": {"api-version": "1.1"}, "name": "a", "files": [
        {"filename": "a-1.0-py3-none-any.whl", "url": "/files/a-1.0-py3-none-any.whl",
         "hashes": {"sha256": "AA"}, "requires-python": ">=3.9", "yanked": "oops",
         "core-metadata": {"sha256": "bb"}},
        {"filename": "a-0.1.tar.gz", "url": "https://x.example/a-0.1.tar.gz", "hashes": {},
         "yanked": False, "dist-info-metadata": True},
        # the file's name is the index's word, not the URL's last part
        {"filename": "a-0.2-py3-none-any.whl", "url": "https://x.example/get?id=7",
         "hashes": {}},
    ]}
    links = parse_page(json.dumps(data).encode(), url="https://idx.example/simple/a/",
                       content_type="application/vnd.pypi.simple.v1+json")
    assert links[0].url == "https://idx.example/files/a-1.0-py3-none-any.whl"
    assert links[0].hashes == {"sha256": "aa"} and links[0].yanked == "oops"
    assert links[0].metadata_hashes == {"sha256": "bb"}
    assert links[1].yanked is None and links[1].metadata_hashes == {}
    assert (links[2].filename, links[2].url) == ("a-0.2-py3-none-any.whl",
                                                 "https://x.example/get?id=7")


@pytest.mark.parametrize("body", [b"{not json", b'{"meta": {"api-version": "2.0"}, "files": []}',
                                  b'{"files": 3}', b'{"files": [{"nourl": 1}]}',
                                  b'{"files": [{"url": "https://x.example/a-1.0-py3-none-any.whl",'
                                  b' "filename": 3}]}'])
def test_bad_json_pages_raise_a_clear_error(body: bytes) -> None:
    with pytest.raises(IndexPageError) as info:
        parse_page(body, url="https://idx.example/simple/a/",
                   content_type="application/vnd.pypi.simple.v1+json", package="a")
    assert "https://idx.example/simple/a/" in str(info.value)


def test_unknown_content_type() -> None:
    with pytest.raises(IndexPageError):
        parse_page(b"x", url="https://i/simple/a/", content_type="application/pdf")


@given(st.binary(max_size=2000))
def test_html_parser_never_crashes_on_arbitrary_bytes(body: bytes) -> None:
    for link in parse_page(body, url="https://idx.example/simple/a/", content_type="text/html"):
        assert link.filename and "#" not in link.url


@given(st.lists(st.sampled_from(["<a href=", '"x-1.0.tar.gz"', ">", "</a>", "<base href=",
                                 '"/q/"', "data-yanked", " ", "#sha256=zz", "&amp;"]),
                max_size=40))
def test_html_parser_on_tag_soup(parts: list[str]) -> None:
    parse_page("".join(parts).encode(), url="https://idx.example/simple/a/",
               content_type="text/html")


def test_metadata_headers_are_read_without_the_long_description() -> None:
    from packaging.version import Version

    from pyinst.metadata import names_itself, parse_headers

    data = (b"Metadata-Version: 2.1\nName: Demo_Pkg\nVersion: 1.0\n"
            b"Requires-Dist: lib>=1\nRequires-Python: >=3.9\n\n"
            b"Name: not-a-header\n" + b"long description " * 1000)
    raw = parse_headers(data)
    assert raw["name"] == "Demo_Pkg" and raw["requires_dist"] == ["lib>=1"]
    assert "description" not in raw
    assert names_itself(data, "demo-pkg", Version("1.0"))[0]  # type: ignore[arg-type]
    assert not names_itself(data, "demo-pkg", Version("2.0"))[0]  # type: ignore[arg-type]
    crlf = data.replace(b"\n", b"\r\n")
    assert parse_headers(crlf)["version"] == "1.0"


@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="/\x00",
                                               blacklist_categories=("Cs",)),
                        min_size=1, max_size=12), min_size=1, max_size=4))
def test_file_urls_round_trip_any_path(parts: list[str]) -> None:
    # e.g. a directory literally named "c%25d" must not come back as "c%d"
    from pyinst.index.client import path_to_url, url_to_path

    path = "/" + "/".join(p for p in parts if p not in (".", ".."))
    if path == "/":
        return
    assert str(url_to_path(path_to_url(path))) == path


def test_attribute_forms_and_file_names_are_read_as_html_parser_and_urlsplit_would() -> None:
    """The fast paths (attribute tuples, no urlsplit for plain absolute links) agree with
    the slow ones on bare, empty, quoted and escaped attributes, queries and escapes."""
    page = b"""
<a href='https://h.example/p/a-1.0-py3-none-any.whl' data-core-metadata>a</a>
<a href="https://h.example/p/a-1.1-py3-none-any.whl" data-core-metadata="">b</a>
<a href=https://h.example/p/a%2B1-1.2.tar.gz DATA-REQUIRES-PYTHON=&gt;=3.9>c</a>
<a href="https://h.example/get?file=a-1.3.tar.gz">d</a>
<a href="https://h.example">e</a>
<a href="https://h.example/dl/a-1.4.zip#md5=AB">f</a>
"""
    links = parse_html_page(page, url="https://h.example/simple/a/")
    by_name = {link.filename: link for link in links}
    assert by_name["a-1.0-py3-none-any.whl"].metadata_hashes is None  # bare: not offered
    assert by_name["a-1.1-py3-none-any.whl"].metadata_hashes == {}
    assert by_name["a+1-1.2.tar.gz"].requires_python == ">=3.9"
    assert "get" in by_name  # the path's last part, as urlsplit has it; the query is not
    assert by_name["a-1.4.zip"].hashes == {"md5": "ab"}
    assert len(links) == 5  # a link without a path names no file


_text = st.text(alphabet=st.sampled_from(list("aZ09-_.%/:#=?&é ")), max_size=12)


@given(
    url=st.builds(lambda host, path, frag: f"https://{host}/{path}{frag}",
                  st.sampled_from(["i.example", "i.example:8080", "[::1]"]), _text,
                  st.sampled_from(["", "#sha256=AB", "#md5=cd", "#nothash=1", "#sha256=",
                                   "#x"])),
    filename=st.none() | _text,
    hashes=st.none() | st.dictionaries(st.sampled_from(["sha256", "sha512"]), _text),
    requires_python=st.none() | _text,
    yanked=st.none() | _text,
    metadata_hashes=st.none() | st.dictionaries(st.sampled_from(["sha256"]), _text),
    origin=_text,
    size=st.none() | st.integers(0, 1 << 40),
)
def test_a_link_from_a_url_is_the_link_its_constructor_makes(
        url: str, filename: str | None, hashes: dict[str, str] | None,
        requires_python: str | None, yanked: str | None,
        metadata_hashes: dict[str, str] | None, origin: str, size: int | None) -> None:
    # from_url sets the frozen dataclass's fields at once, without its __init__: the
    # link must be the very one __init__ makes of the same fields (equal, same hash,
    # same repr), and it must not share the caller's dict of hashes
    import urllib.parse

    from pyinst.models import Link

    link = Link.from_url(url, filename=filename, hashes=hashes,
                         requires_python=requires_python, yanked=yanked,
                         metadata_hashes=metadata_hashes, origin=origin, size=size)
    base, _, frag = url.partition("#")
    expected_hashes = dict(hashes or {})
    name, _, value = frag.partition("=")
    if name in ("sha256", "md5") and value:
        expected_hashes.setdefault(name, value.lower())
    made = Link(url=base, filename=filename or urllib.parse.unquote(
                    urllib.parse.urlsplit(base).path.rsplit("/", 1)[-1]),
                hashes=expected_hashes, requires_python=requires_python, yanked=yanked,
                metadata_hashes=metadata_hashes, origin=origin, size=size)
    assert link == made and hash(link) == hash(made) and repr(link) == repr(made)
    assert vars(link) == vars(made)
    if hashes is not None:
        assert link.hashes is not hashes
    with pytest.raises(AttributeError):
        link.url = "https://elsewhere.example/"  # type: ignore[misc]
