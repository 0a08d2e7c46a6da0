"""Hostile wheels: each is refused with its reason, and nothing is written anywhere.

Every case builds its bad wheel by hand (a zip written member by member, so names can
repeat and RECORD can lie), installs it by path into a real venv, and checks that the
target and a sibling "outside" directory are exactly as they were.
"""

from __future__ import annotations

import base64
import hashlib
import os
import warnings
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Callable

import pytest

import pyinst
import pyinst.unpack
import pyinst.workers
from pyinst import Config, Installer, Target

from helpers import IndexFile, IndexServer, run_cli, tree_snapshot

NAME, VERSION = "evil", "1.0"
DIST_INFO = f"{NAME}-{VERSION}.dist-info"
WHEEL = "Wheel-Version: 1.0\nGenerator: hostile\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
METADATA = f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {VERSION}\n"


def _hash(data: bytes, algo: str = "sha256") -> str:
    digest = hashlib.new(algo, data).digest()
    return f"{algo}=" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def craft(out: Path, members: Iterable[tuple[str, bytes]], *, wheel: str = WHEEL,
          metadata: str = METADATA, dist_info: str = DIST_INFO,
          record_rows: Iterable[str] | None = None, unrecorded: Iterable[str] = (),
          extra: Iterable[tuple[str, bytes]] = (), trailing: bytes = b"",
          entry_points: str | None = None, algo: str = "sha256",
          compression: int = zipfile.ZIP_STORED) -> Path:
    """A wheel of ``evil`` 1.0 with the given members, a RECORD describing them (unless
    ``record_rows`` replaces it; names in ``unrecorded`` are left out of it) and
    ``extra`` members written after RECORD (even duplicates)."""
    files = list(members)
    files += [(f"{dist_info}/METADATA", metadata.encode()), (f"{dist_info}/WHEEL",
                                                            wheel.encode())]
    if entry_points is not None:
        files.append((f"{dist_info}/entry_points.txt", entry_points.encode()))
    skip = set(unrecorded)
    rows = list(record_rows) if record_rows is not None else [
        f"{n},{_hash(d, algo)},{len(d)}" for n, d in files if n not in skip]
    rows.append(f"{dist_info}/RECORD,,")
    files.append((f"{dist_info}/RECORD", ("\n".join(rows) + "\n").encode()))
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{NAME}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name": that is the point
        for n, d in [*files, *extra]:
            info = zipfile.ZipInfo(n)
            info.compress_type = compression
            with zf.open(info, "w") as f:  # ZipFile.open: duplicates are written as given
                f.write(d)
    if trailing:
        with open(path, "ab") as f:
            f.write(trailing)
    return path


OK = (f"{NAME}/__init__.py", b"X = 1\n")


def _not_in_this_process(*args: object) -> None:
    raise AssertionError("a wheel meant for a worker process was unpacked in this one")


@pytest.fixture(params=["threads", "workers"])
def attempt(request: pytest.FixtureRequest, tmp_path: Path,
            venv_factory: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
            ) -> Callable[[Path], pyinst.PyinstError]:
    """Install a bad wheel; it must be refused, and nothing written. Each case runs with
    the wheel unpacked in a thread, and in a worker process (every wheel counts as big;
    the parent may not unpack it, so the refusal must come from the worker)."""
    python = venv_factory("3.12")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("untouched")
    processes = 0
    if request.param == "workers":
        processes = 2
        monkeypatch.setattr(pyinst.workers, "BIG_WHEEL", 0)
        monkeypatch.setattr(pyinst.unpack, "unpack", _not_in_this_process)

    def run(wheel: Path) -> pyinst.PyinstError:
        before = tree_snapshot(python.parent.parent), tree_snapshot(outside)
        config = Config(index_urls=(), cache_dir=tmp_path / "cache",
                        unpack_processes=processes)
        with Installer(config) as inst, pytest.raises(pyinst.PyinstError) as info:
            inst.install([str(wheel)], Target.from_python(python))
        assert (tree_snapshot(python.parent.parent), tree_snapshot(outside)) == before
        assert not list(tmp_path.glob("site-packages-evil*"))
        return info.value

    return run


@pytest.mark.parametrize("member", [
    "../x.py", "/abs/x.py", "C:\\x.py", "C:/x.py", "a/../../x.py", "evil/../../../x.py",
    f"{NAME}-{VERSION}.data/purelib/../../site-packages-evil/x.py",
    f"{NAME}-{VERSION}.data/scripts/../../../bin-evil",
])
def test_member_paths_that_leave_their_scheme(member: str, tmp_path: Path,
                                              attempt: Callable[[Path], Exception]) -> None:
    error = attempt(craft(tmp_path / "w", [OK, (member, b"pwned\n")]))
    assert "outside" in str(error) or "invalid wheel" in str(error), error


@pytest.mark.parametrize(("case", "says"), [
    ("wrong hash", "does not match its RECORD entry"),
    ("wrong sha512 hash", "does not match its RECORD entry"),
    ("wrong size", "does not match its RECORD entry"),
    ("not recorded", "is not in its RECORD"),
    ("phantom row", "RECORD lists files the wheel does not contain"),
    ("weak hash", "weak or unknown hash 'md5'"),
    ("unknown hash", "sha3_fake"),
    ("short row", "expected 3 elements"),
])
def test_record_lies(case: str, says: str, tmp_path: Path,
                     attempt: Callable[[Path], Exception]) -> None:
    data = OK[1]
    rows = {
        "wrong hash": [f"{OK[0]},{_hash(b'other')},{len(data)}"],
        "wrong sha512 hash": [f"{OK[0]},{_hash(b'other', 'sha512')},{len(data)}"],
        "wrong size": [f"{OK[0]},{_hash(data)},{len(data) + 1}"],
        "phantom row": [f"{OK[0]},{_hash(data)},{len(data)}",
                        f"{NAME}/phantom.py,{_hash(b'x')},1"],
        "weak hash": [f"{OK[0]},{_hash(data, 'md5')},{len(data)}"],
        "unknown hash": [f"{OK[0]},sha3_fake=abc,{len(data)}"],
        "short row": [f"{OK[0]},{_hash(data)}", f"{OK[0]},{_hash(data)},{len(data)}"],
    }.get(case)
    if rows is not None:
        meta = [f"{DIST_INFO}/METADATA,{_hash(METADATA.encode())},{len(METADATA)}",
                f"{DIST_INFO}/WHEEL,{_hash(WHEEL.encode())},{len(WHEEL)}"]
        wheel = craft(tmp_path / "w", [OK], record_rows=[*rows, *meta])
    else:
        wheel = craft(tmp_path / "w", [OK, (f"{NAME}/sneaky.py", b"y")],
                      unrecorded=[f"{NAME}/sneaky.py"])
    assert says in str(attempt(wheel))


@pytest.mark.parametrize(("case", "says"), [
    ("duplicate", "appears twice"),
    ("trailing", "data after the zip's end record"),
    ("header mismatch", "differ"),
    ("two dist-infos", "expected one"),
    ("misnamed dist-info", "expected one evil-1.0.dist-info directory"),
    ("metadata names another", "it says good 1.0"),
    ("wheel version 2", "unsupported Wheel-Version"),
    ("damaged, no hash in RECORD", "is damaged"),
    ("encrypted", "is encrypted"),
    ("unknown compression", "evil/__init__.py is compressed in a way that cannot be read"),
    ("METADATA damaged", "Bad CRC-32 for file 'evil-1.0.dist-info/METADATA'"),
    ("METADATA encrypted", "is encrypted"),
    ("big member, damaged", "invalid wheel"),
    ("unknown .data scheme", "not in a valid .data subdirectory"),
    ("a .data scheme as a file", "not in a valid .data subdirectory"),
    ("no Wheel-Version", "unsupported Wheel-Version"),
    # the filesystem's answers to these (EEXIST, EISDIR, ENOTDIR) are the wheel's doing,
    # not a cache that cannot be written
    ("a file, then a directory of that name", "invalid wheel 'evil' 1.0"),
    ("a directory, then a file of that name", "invalid wheel 'evil' 1.0"),
])
def test_structure(case: str, says: str, tmp_path: Path,
                   attempt: Callable[[Path], Exception]) -> None:
    out = tmp_path / "w"
    if case == "duplicate":
        wheel = craft(out, [OK], extra=[(OK[0], b"import os  # the second copy\n")])
    elif case == "trailing":
        wheel = craft(out, [OK], trailing=b"#!/bin/sh\necho appended\n")
    elif case == "header mismatch":
        wheel = craft(out, [OK])
        data = wheel.read_bytes()
        local = data.index(b"PK\x03\x04")  # the first local header names evil/__init__.py
        at = data.index(OK[0].encode(), local)
        wheel.write_bytes(data[:at] + b"evil/__init__.pz" + data[at + len(OK[0]):])
    elif case == "two dist-infos":
        wheel = craft(out, [OK, ("other-1.0.dist-info/METADATA", b"Name: other\n")])
    elif case == "misnamed dist-info":
        wheel = craft(out, [OK], dist_info="evil-2.0.dist-info")
    elif case == "damaged, no hash in RECORD":  # only the zip's CRC can tell
        wheel = craft(out, [OK], record_rows=[f"{OK[0]},,"])
        wheel.write_bytes(wheel.read_bytes().replace(b"X = 1\n", b"X = 2\n"))
    elif case == "encrypted":
        wheel = craft(out, [OK])
        data = bytearray(wheel.read_bytes())
        data[data.index(b"PK\x01\x02") + 8] |= 1  # the first member's "encrypted" flag
        wheel.write_bytes(bytes(data))
    elif case == "unknown compression":  # a method number zipfile has no code for
        wheel = craft(out, [OK])
        data = bytearray(wheel.read_bytes())
        data[data.index(b"PK\x01\x02") + 10] = 97  # the first member's, evil/__init__.py
        wheel.write_bytes(bytes(data))
    elif case == "METADATA damaged":  # read before RECORD is: the CRC tells
        wheel = craft(out, [OK], metadata=METADATA + "Summary: one line\n")
        data = wheel.read_bytes()
        wheel.write_bytes(data.replace(b"Summary: one line", b"Summary: one lime"))
    elif case == "METADATA encrypted":
        wheel = craft(out, [OK])
        data = bytearray(wheel.read_bytes())
        at = data.index(f"{DIST_INFO}/METADATA".encode(), data.index(b"PK\x01\x02"))
        data[at - 46 + 8] |= 1  # its central directory entry's "encrypted" flag
        wheel.write_bytes(bytes(data))
    elif case == "big member, damaged":  # inflated in steps, not at once
        wheel = craft(out, [OK, (f"{NAME}/big.bin", _big())],
                      compression=zipfile.ZIP_DEFLATED)
        data = bytearray(wheel.read_bytes())
        data[len(data) // 2] ^= 0xFF
        wheel.write_bytes(bytes(data))
    elif case == "unknown .data scheme":  # would land beside the target's schemes
        wheel = craft(out, [OK, (f"{NAME}-{VERSION}.data/elsewhere/x.py", b"pwned\n")])
    elif case == "a .data scheme as a file":
        wheel = craft(out, [OK, (f"{NAME}-{VERSION}.data/purelib", b"pwned\n")])
    elif case == "a file, then a directory of that name":
        wheel = craft(out, [OK, (f"{NAME}/x", b"a file\n"), (f"{NAME}/x/y.py", b"Y = 1\n")])
    elif case == "a directory, then a file of that name":
        wheel = craft(out, [OK, (f"{NAME}/x/y.py", b"Y = 1\n"), (f"{NAME}/x", b"a file\n")])
    elif case == "no Wheel-Version":
        wheel = craft(out, [OK], wheel="Generator: hostile\nRoot-Is-Purelib: true\n")
    elif case == "metadata names another":
        wheel = craft(out, [OK], metadata="Metadata-Version: 2.1\nName: good\nVersion: 1.0\n")
    else:
        wheel = craft(out, [OK], wheel=WHEEL.replace("1.0", "2.0", 1))
    assert says in str(attempt(wheel))


def _big() -> bytes:
    """Bigger than what unpacking inflates in one call (1 MiB), and not all alike."""
    return b"".join(hashlib.sha256(str(i).encode()).hexdigest().encode() + b"\n"
                    for i in range(90_000))


@pytest.mark.parametrize("entry", [
    "../evil = evil:main", "/usr/bin/evil = evil:main", "sub/evil = evil:main",
    "python = evil:main", "python3.12 = evil:main", "evil = not a module:main",
    "evil = evil:main; rm -rf",
])
def test_entry_points(entry: str, tmp_path: Path,
                      attempt: Callable[[Path], Exception]) -> None:
    wheel = craft(tmp_path / "w", [OK], entry_points=f"[console_scripts]\n{entry}\n")
    assert "entry point" in str(attempt(wheel)) or "invalid wheel" in str(attempt(wheel))


def test_a_symlinked_directory_in_the_target_is_not_followed_outside(
        tmp_path: Path, venv_factory: Callable[[str], Path]) -> None:
    python = venv_factory("3.12")
    site = Path(next(p for p in (python.parent.parent / "lib").glob("python*/site-packages")))
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, site / NAME)  # planted: evil/ leads out of the venv
    wheel = craft(tmp_path / "w", [OK, (f"{NAME}/sub/deep.py", b"y = 2\n")])
    before = tree_snapshot(python.parent.parent)
    with Installer(Config(index_urls=(), cache_dir=tmp_path / "cache")) as inst, \
            pytest.raises(pyinst.InstallError) as info:
        inst.install([str(wheel)], Target.from_python(python))
    assert "symbolic link" in str(info.value) and str(outside) in str(info.value)
    assert list(outside.iterdir()) == []
    assert tree_snapshot(python.parent.parent) == before


def test_a_good_crafted_wheel_installs(tmp_path: Path,
                                      venv_factory: Callable[[str], Path]) -> None:
    # the factory itself makes valid wheels: the refusals above are about their flaws
    python = venv_factory("3.12")
    wheel = craft(tmp_path / "w", [OK], entry_points="[console_scripts]\nevil = evil:X\n")
    with Installer(Config(index_urls=(), cache_dir=tmp_path / "cache")) as inst:
        result = inst.install([str(wheel)], Target.from_python(python))
    assert result.installed == (("evil", "1.0"),)
    assert (python.parent / "evil").exists()


def _spoil_metadata(wheel: Path, flaw: str) -> None:
    """Spoil the deflated METADATA member of ``wheel`` in place."""
    with zipfile.ZipFile(wheel) as zf:
        info = zf.getinfo(f"{DIST_INFO}/METADATA")
    data = bytearray(wheel.read_bytes())
    central = data.index(info.filename.encode(), data.index(b"PK\x01\x02")) - 46
    if flaw == "encrypted":
        data[central + 8] |= 1
    elif flaw == "compression":  # a method number zipfile has no code for
        data[central + 10] = 97
    else:  # "damaged": the first deflate block gets the reserved block type
        name_len, extra_len = int.from_bytes(data[info.header_offset + 26:][:2], "little"), \
            int.from_bytes(data[info.header_offset + 28:][:2], "little")
        data[info.header_offset + 30 + name_len + extra_len] |= 0b110
    wheel.write_bytes(bytes(data))


@pytest.mark.parametrize(("flaw", "says"), [
    ("encrypted", "the member evil-1.0.dist-info/METADATA is encrypted"),
    ("compression", "the member evil-1.0.dist-info/METADATA is compressed in a way that "
                    "cannot be read"),
    ("damaged", "the member evil-1.0.dist-info/METADATA is damaged (Error -3 while "
                "decompressing data: invalid block type)"),
])
def test_a_metadata_member_that_cannot_be_read_is_one_line_from_an_index_without_sidecars(
        flaw: str, says: str, tmp_path: Path, venv_factory: Callable[[str], Path],
        make_index: Callable[..., IndexServer]) -> None:
    # Without PEP 658 sidecars METADATA is read from the wheel over range requests, and
    # then from the whole file; zipfile reports these three flaws with RuntimeError,
    # NotImplementedError and zlib.error, which once escaped as tracebacks.
    python = venv_factory("3.12")
    wheel = craft(tmp_path / "w", [OK], compression=zipfile.ZIP_DEFLATED)
    _spoil_metadata(wheel, flaw)
    index = make_index({NAME: [IndexFile(wheel)]}, sidecars=False)
    before = tree_snapshot(python.parent.parent)
    proc = run_cli("install", "-p", str(python), "-i", index.url, "--no-cache", NAME)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip() == (f"error: invalid wheel '{NAME}' {VERSION} "
                                   f"({wheel.name}): {says}"), proc.stderr
    assert index.range_requests  # the ranged reading was tried first
    assert tree_snapshot(python.parent.parent) == before


@pytest.mark.parametrize("legacy", [False, True])
def test_member_names_beyond_ascii_install_as_the_zip_names_them(
        legacy: bool, tmp_path: Path, venv_factory: Callable[[str], Path]) -> None:
    # zipfile marks a name beyond ASCII as UTF-8; an old archiver did not, and such a
    # name means cp437 (as zipfile, pip and uv read it). The local header must name the
    # member in the same bytes either way.
    python = venv_factory("3.12")
    member = f"{NAME}/données.txt"
    as_read = member.encode().decode("cp437") if legacy else member
    rows = [f"{n},{_hash(d)},{len(d)}" for n, d in
            [OK, (as_read, b"oui\n"), (f"{DIST_INFO}/METADATA", METADATA.encode()),
             (f"{DIST_INFO}/WHEEL", WHEEL.encode())]]
    wheel = craft(tmp_path / "w", [OK, (member, b"oui\n")], record_rows=rows)
    if legacy:
        data = bytearray(wheel.read_bytes())
        for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
            at = data.index(member.encode(), data.index(signature))
            start = data.rindex(signature, 0, at)
            assert data[start + flags_at + 1] & 0x08  # the UTF-8 flag (bit 11)
            data[start + flags_at + 1] &= ~0x08 & 0xFF
        wheel.write_bytes(bytes(data))
    member = as_read
    with Installer(Config(index_urls=(), cache_dir=tmp_path / "cache")) as inst:
        inst.install([str(wheel)], Target.from_python(python))
    site = next((python.parent.parent / "lib").glob("python*/site-packages"))
    assert (site / member).read_bytes() == b"oui\n"
    assert member in (site / DIST_INFO / "RECORD").read_text(encoding="utf-8")


@pytest.mark.parametrize("processes", [0, 2])
def test_a_record_of_sha512_hashes_is_checked_and_the_target_gets_sha256_rows(
        processes: int, tmp_path: Path, venv_factory: Callable[[str], Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # PEP 376 allows any hashlib algorithm in RECORD, and every file is checked against
    # its row. The installed RECORD lists the sha256 pyinst computed of each file as it
    # wrote it (pip and uv copy the wheel's rows instead; both describe the same bytes).
    if processes:  # in a worker process, and only there
        monkeypatch.setattr(pyinst.workers, "BIG_WHEEL", 0)
        monkeypatch.setattr(pyinst.unpack, "unpack", _not_in_this_process)
    python = venv_factory("3.12")
    wheel = craft(tmp_path / "w", [OK], algo="sha512")
    with zipfile.ZipFile(wheel) as zf:
        assert "sha512=" in zf.read(f"{DIST_INFO}/RECORD").decode()
    config = Config(index_urls=(), cache_dir=tmp_path / "cache", unpack_processes=processes)
    with Installer(config) as inst:
        inst.install([str(wheel)], Target.from_python(python))
    site = next((python.parent.parent / "lib").glob("python*/site-packages"))
    rows = {r.split(",")[0]: r.split(",")[1]
            for r in (site / DIST_INFO / "RECORD").read_text().splitlines()}
    assert rows[OK[0]] == _hash(OK[1])
    assert rows[f"{DIST_INFO}/METADATA"] == _hash(METADATA.encode())


@pytest.mark.parametrize("inflater", ["default", "zlib", "stored", "bzip2", "lzma"])
def test_a_big_member_installs_byte_for_byte(inflater: str, tmp_path: Path,
                                            venv_factory: Callable[[str], Path],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    if inflater == "zlib":  # where ISA-L has no wheels, the standard library inflates
        import zlib

        from pyinst import unpack

        monkeypatch.setattr(unpack, "_zlib", zlib)
    python = venv_factory("3.12")
    big = _big()
    # (bzip2 and lzma: every member, METADATA and RECORD too; wheels may use them)
    wheel = craft(tmp_path / "w", [OK, (f"{NAME}/big.bin", big)],
                  compression={"stored": zipfile.ZIP_STORED, "bzip2": zipfile.ZIP_BZIP2,
                               "lzma": zipfile.ZIP_LZMA}.get(inflater, zipfile.ZIP_DEFLATED))
    # in this process: a worker process would not see the monkeypatched inflater
    config = Config(index_urls=(), cache_dir=tmp_path / "cache",
                    unpack_processes=0 if inflater == "zlib" else None)
    with Installer(config) as inst:
        inst.install([str(wheel)], Target.from_python(python))
    site = next((python.parent.parent / "lib").glob("python*/site-packages"))
    assert len(big) > 1 << 20 and (site / NAME / "big.bin").read_bytes() == big


@pytest.mark.parametrize("inflater", ["default", "zlib"])
def test_a_member_that_inflates_a_thousandfold_is_written_a_little_at_a_time(
        inflater: str, tmp_path: Path, venv_factory: Callable[[str], Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # 48 MB of zeros is 47 KB deflated: one read of the member, which was once inflated
    # into one 48 MB buffer (a bigger bomb, a bigger buffer); now at most 1 MiB at a time
    import tracemalloc
    import zlib

    from pyinst import unpack

    if inflater == "zlib":
        monkeypatch.setattr(unpack, "_zlib", zlib)
    python = venv_factory("3.12")
    size = 48 << 20
    wheel = craft(tmp_path / "w", [OK, (f"{NAME}/zeros.bin", bytes(size))],
                  compression=zipfile.ZIP_DEFLATED)
    assert wheel.stat().st_size < 1 << 20
    config = Config(index_urls=(), cache_dir=tmp_path / "cache", unpack_processes=0)
    with Installer(config) as inst:
        tracemalloc.start()
        try:
            inst.install([str(wheel)], Target.from_python(python))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    site = next((python.parent.parent / "lib").glob("python*/site-packages"))
    assert (site / NAME / "zeros.bin").stat().st_size == size
    assert peak < 8 << 20, f"{peak / 2**20:.1f} MiB held at once"
