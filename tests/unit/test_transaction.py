"""The journal undoes what a killed install left, whether files went into directories
it made (written down as directories) or into ones that were there (file by file)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pyinst.transaction import Transaction, new_journal_path, recover


def _tree(root: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(root.rglob("*"))}


def _write(path: str, data: bytes) -> None:
    with open(path, "xb") as fh:
        fh.write(data)


def _site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    (site / "old").mkdir(parents=True)
    (site / "old" / "keep.py").write_bytes(b"kept\n")
    (site / "top.py").write_bytes(b"top\n")
    return site


def test_recovery_after_a_kill_removes_new_directories_whole_and_puts_files_back(
        tmp_path: Path) -> None:
    site = _site(tmp_path)
    before = _tree(site)
    root = str(site)
    tx = Transaction(root, roots=(root,), journal=new_journal_path(root))
    for t in (tx, tx.child()):  # the parent's journal hears its children too
        t.know_existing([root])
    child = tx.child()
    new_files = [f"{root}/pkg/__init__.py", f"{root}/pkg/sub/deep/mod.py", f"{root}/new.py",
                 f"{root}/old/added.py"]
    child.prepare_writes(new_files)
    for path in new_files:
        _write(path, b"new\n")
    child.prepare_write(f"{root}/top.py")  # replaces a file that was there
    _write(f"{root}/top.py", b"replaced\n")
    # (no commit, no rollback: the process is gone)
    assert recover(root)
    assert _tree(site) == before


def test_rollback_of_a_file_written_twice_leaves_neither(tmp_path: Path) -> None:
    site = _site(tmp_path)
    before = _tree(site)
    root = str(site)
    tx = Transaction(root, roots=(root,), journal=new_journal_path(root))
    tx.know_existing([root])
    for data in (b"first\n", b"second\n"):  # two wheels with the same path, in order
        tx.prepare_writes([f"{root}/ns/__init__.py", f"{root}/shared.py"])
        _write(f"{root}/ns/__init__.py", data)
        _write(f"{root}/shared.py", data)
    assert (site / "shared.py").read_bytes() == b"second\n"
    tx.rollback()
    assert _tree(site) == before
    assert not [n for n in os.listdir(root) if n.startswith(".pyinst-")]


def test_a_directory_there_that_leads_outside_the_target_is_refused(tmp_path: Path) -> None:
    """Directories are made in one quick pass, but one that is there already is looked at:
    a symbolic link out of the target (directly below it, or further down) is refused
    before anything is written through it, and what the pass made is undone."""
    import pytest

    from pyinst.transaction import UnsafeTarget

    site = _site(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (site / "evil").symlink_to(outside)
    (site / "old" / "deep").symlink_to(outside)
    before = _tree(site)
    root = str(site)
    for paths in ([f"{root}/aaa/new.py", f"{root}/evil/x.py"],
                  [f"{root}/aaa/b/new.py", f"{root}/old/deep/sub/x.py"]):
        tx = Transaction(root, roots=(root,), journal=new_journal_path(root))
        tx.know_existing([root])
        with pytest.raises(UnsafeTarget, match="symbolic link"):
            tx.prepare_writes(paths)
        tx.rollback()
        assert _tree(site) == before
        assert list(outside.iterdir()) == []


def test_a_journal_that_could_not_be_made_does_not_stop_the_rollback(tmp_path: Path) -> None:
    # on a read-only target the journal's first line is the first write, and fails; the
    # rollback then has nothing to remove (asking the filesystem to would fail too: a
    # traceback after "the target was restored", before). A file where the journal's
    # directory goes stands in for the read-only filesystem here.
    site = _site(tmp_path)
    before = _tree(site)
    root = str(site)
    blocker = tmp_path / "not-a-directory"
    blocker.write_bytes(b"")
    tx = Transaction(root, roots=(root,), journal=str(blocker / "journal.jsonl"))
    tx.know_existing([root])
    with pytest.raises(OSError):  # the journal could not be written, so nothing is
        tx.prepare_write(f"{root}/new.py")
    tx.rollback()
    assert _tree(site) == before
    assert blocker.read_bytes() == b""
