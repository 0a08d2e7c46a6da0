from __future__ import annotations

from pathlib import Path

import pytest

from pyinst.errors import InvalidRequirement
from pyinst.reqfile import is_unnamed, parse_requirement, parse_requirements_file


def test_full_syntax(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "more.txt").write_text("extra-pkg>=1  # nested\n")
    (tmp_path / "cons.txt").write_text("lib<2\n")
    (tmp_path / "reqs.txt").write_text(
        "# a comment\n"
        "--index-url https://idx.example/simple/\n"
        "--extra-index-url=https://extra.example/simple/\n"
        "-f ./links\n"
        "--pre\n"
        "-r sub/more.txt\n"
        "-c cons.txt\n"
        "lib[fast] >= 1.0 ; python_version >= '3.8' \\\n"
        "    --hash=sha256:AAAA --hash sha256:bbbb\n"
        "name-with-url @ https://x.example/p-1.0-py3-none-any.whl\n"
        "token==${TOKEN_VERSION}\n"
    )
    (tmp_path / "links").mkdir()
    rs = parse_requirements_file(tmp_path / "reqs.txt", env={"TOKEN_VERSION": "2.1"})
    assert rs.index_url == "https://idx.example/simple/"
    assert rs.extra_index_urls == ["https://extra.example/simple/"]
    assert rs.find_links == [str(tmp_path / "links")]
    assert rs.pre
    names = [str(r.requirement) for r in rs.requirements]
    assert names == ["extra-pkg>=1", 'lib[fast]>=1.0; python_version >= "3.8"',
                     "name-with-url @ https://x.example/p-1.0-py3-none-any.whl", "token==2.1"]
    assert rs.requirements[1].hashes == {"sha256": ["aaaa", "bbbb"]}
    assert rs.requirements[1].line == 8
    assert [str(c.requirement) for c in rs.constraints] == ["lib<2"]


def test_errors_name_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "r.txt"
    f.write_text("ok\nbad requirement here!\n")
    with pytest.raises(InvalidRequirement) as info:
        parse_requirements_file(f)
    assert str(info.value).startswith(f"{f}:2: invalid requirement")
    f.write_text("--frobnicate\n")
    with pytest.raises(InvalidRequirement):
        parse_requirements_file(f)
    f.write_text("-e .\n")  # a directory with no project in it
    with pytest.raises(InvalidRequirement, match=r"r\.txt:1: '\.' is a directory without"):
        parse_requirements_file(f)
    f.write_text("# made by a tool\nlock-version = \"1.0\"\n")
    with pytest.raises(InvalidRequirement, match=r"named pylock\.toml or pylock\.NAME\.toml"):
        parse_requirements_file(f)
    f.write_text("-r r.txt\n")
    with pytest.raises(InvalidRequirement, match="loop"):
        parse_requirements_file(f)
    with pytest.raises(InvalidRequirement, match="cannot read"):
        parse_requirements_file(tmp_path / "missing.txt")


def test_local_projects_editables_and_extras(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "pyproject.toml").write_text('[project]\nname = "My_Proj"\nversion = "1"\n')
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "setup.py").write_text("")
    (legacy / "setup.cfg").write_text("[metadata]\nname = old-style\n")
    req = parse_requirement("./proj[fast]", base_dir=tmp_path)
    assert (req.name, req.extras, req.url) == ("My_Proj", {"fast"}, proj.as_uri())
    f = tmp_path / "r.txt"
    f.write_text("-e ./proj\n./legacy ; python_version >= '3'\n")
    parsed = parse_requirements_file(f)
    assert [(r.requirement.name, r.editable) for r in parsed.requirements] == [
        ("My_Proj", True), ("old-style", False)]
    assert parsed.requirements[1].requirement.marker is not None
    # a project whose name only its metadata knows gets a placeholder until it is built
    (tmp_path / "dynamic").mkdir()
    (tmp_path / "dynamic" / "setup.py").write_text("")
    assert is_unnamed(parse_requirement("./dynamic", base_dir=tmp_path))
    assert not is_unnamed(req)


def test_paths_and_urls_to_wheels(tmp_path: Path) -> None:
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "pkg_name-1.0-py3-none-any.whl").touch()
    req = parse_requirement("./dist/pkg_name-1.0-py3-none-any.whl", base_dir=tmp_path)
    assert req.name == "pkg-name"
    assert req.url == (tmp_path / "dist" / "pkg_name-1.0-py3-none-any.whl").as_uri()
    req = parse_requirement("https://x.example/a/demo-2.0-py3-none-any.whl")
    assert req.name == "demo" and req.url == "https://x.example/a/demo-2.0-py3-none-any.whl"
    with pytest.raises(InvalidRequirement):
        parse_requirement("https://x.example/a/whatever")
    # a path to nothing says so, named like a wheel or not (it once said "cannot tell
    # the project name", or failed only after resolving)
    for missing in ("./dist/other-1.0-py3-none-any.whl", "./nothing.whl", "./dist/x-1.0.tar.gz",
                    "./no-such-project"):
        with pytest.raises(InvalidRequirement, match="no such file or directory"):
            parse_requirement(missing, base_dir=tmp_path)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-be",
                                      "utf-32"])
def test_a_file_with_a_byte_order_mark_reads_as_its_mark_says(tmp_path: Path,
                                                              encoding: str) -> None:
    # PowerShell's `pip freeze > requirements.txt` writes UTF-16 with a mark; pip reads it
    text = "lib==1.0  # beyond ASCII: café\r\n-r more.txt\r\nn @ https://x.example/n-1.0-py3-none-any.whl\r\n"
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = "\ufeff".encode("utf-16-be") + data  # the codec writes no mark itself
    (tmp_path / "reqs.txt").write_bytes(data)
    (tmp_path / "more.txt").write_bytes("other>=2\n".encode("utf-16"))  # marked
    rs = parse_requirements_file(tmp_path / "reqs.txt")
    assert [str(r.requirement) for r in rs.requirements] == [
        "lib==1.0", "other>=2", "n @ https://x.example/n-1.0-py3-none-any.whl"]


@pytest.mark.parametrize("name", ["reqs.txt", "script.py"])
def test_a_file_that_is_not_text_is_one_error(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"lib\n\xc5\x80\xff rest\n")
    what = "script" if name.endswith(".py") else "requirements file"
    with pytest.raises(InvalidRequirement) as info:
        parse_requirements_file(path)
    assert str(info.value) == (f"{path}: cannot read {what}: it is not UTF-8 text (byte "
                               "0xff at offset 6); save it as UTF-8")


def test_a_requirements_file_at_a_url_without_a_reader_is_refused_by_name(
        tmp_path: Path) -> None:
    # not read from disk as "https:/host/r.txt" (what a path made of it says)
    url = "https://example.org/reqs/r.txt"
    with pytest.raises(InvalidRequirement) as info:
        parse_requirements_file(url)
    assert str(info.value) == (f"{url}: requirements files are read from disk only here, "
                               "not from URLs; download it, then give its path")
    (tmp_path / "reqs.txt").write_text(f"lib\n-c {url}\n")
    with pytest.raises(InvalidRequirement) as info:
        parse_requirements_file(tmp_path / "reqs.txt")
    assert str(info.value).startswith(f"{tmp_path / 'reqs.txt'}:2: {url}: requirements files "
                                      "are read from disk only")


def test_a_requirements_file_at_a_url_includes_relative_to_its_url(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    served = {
        "https://example.org/reqs/r.txt": b"lib==1.0\n-r more.txt\n-c ../cons.txt\n"
                                          b"-r https://other.example/s.py\n./local-project\n",
        "https://example.org/reqs/more.txt": "other>=2\n".encode("utf-16"),
        "https://example.org/cons.txt": b"lib<2\n",
        "https://other.example/s.py": b"# /// script\n# dependencies = ['tool']\n# ///\n",
    }
    asked: list[str] = []

    def fetch(url: str) -> bytes:
        asked.append(url)
        return served[url]

    (tmp_path / "local-project").mkdir()
    (tmp_path / "local-project" / "pyproject.toml").write_text(
        "[project]\nname = 'local-project'\nversion = '1'\n")
    monkeypatch.chdir(tmp_path)  # a file from a URL names paths from here
    rs = parse_requirements_file("https://example.org/reqs/r.txt", fetch=fetch)
    assert [str(r.requirement) for r in rs.requirements] == [
        "lib==1.0", "other>=2", "tool",
        f"local-project @ {(tmp_path / 'local-project').as_uri()}"]
    assert [str(r.requirement) for r in rs.constraints] == ["lib<2"]
    assert asked == list(served)
    served["https://example.org/reqs/more.txt"] = b"-r r.txt\n"
    with pytest.raises(InvalidRequirement, match="include each other in a loop"):
        parse_requirements_file("https://example.org/reqs/r.txt", fetch=fetch)
