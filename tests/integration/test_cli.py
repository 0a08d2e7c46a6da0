"""The CLI as a user runs it: one clear line and a non-zero exit for bad input, target untouched."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import pytest

from helpers import IndexServer, find_python, run_cli, run_in, tree_snapshot


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return int(port)


@pytest.fixture
def venv(venv_factory: Callable[[str], Path]) -> Path:
    return venv_factory("3.13")


def _install(index_url: str, python: Path, *args: str):  # type: ignore[no-untyped-def]
    return run_cli("install", "-p", str(python), "-i", index_url, "--no-cache", *args)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["nosuchproject"], "no project named 'nosuchproject' was found"),
        (["simple>=9"], "no version of 'simple' matches 'simple>=9' (available: 1.0, 2.0, 3.0)"),
        (["conflict-a", "conflict-b"], "conflicting requirements for shared"),
        (["onlywin"], "'onlywin' has no installable file for this target: no wheel matches"),
        (["--only-binary", ":all:", "onlysdist"],
         "only source distributions are offered, and --only-binary refuses them"),
        (["onlysdist"], "cannot build 'onlysdist'"),
        (["depmissing"], "no project named 'doesnotexist' was found"),
        (["badrecord"], "invalid wheel 'badrecord' 1.0"),
        (["liar"], "invalid metadata for 'liar' 1.0"),
        (["badhash"], "hash mismatch for 'badhash'"),
    ],
)
def test_user_errors_are_one_line_and_change_nothing(
    index: IndexServer, venv: Path, args: list[str], expected: str
) -> None:
    before = tree_snapshot(venv.parent.parent)
    proc = _install(index.url, venv, "simple==1.0", *args) if args == ["badrecord"] else \
        _install(index.url, venv, *args)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and expected in lines[0], lines[0]
    assert "Traceback" not in proc.stderr
    assert tree_snapshot(venv.parent.parent) == before


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["--timeout", "-1"], {}, "error: --timeout must be more than 0, not -1.0"),
        (["--timeout", "nan"], {}, "error: --timeout must be more than 0, not nan"),
        (["--retries", "-2"], {}, "error: --retries must be 0 or more, not -2"),
        (["--unpack-processes", "-3"], {},
         "error: --unpack-processes must be 0 or more, not -3"),
        (["--lock-timeout", "-1"], {}, "error: --lock-timeout must be 0 or more, not -1.0"),
        ([], {"PYINST_RETRIES": "-1"}, "error: PYINST_RETRIES: retries must be 0 or more, "
                                       "not -1"),
    ],
)
def test_numbers_out_of_range_are_usage_errors(
        index: IndexServer, venv: Path, args: list[str], env: dict[str, str],
        expected: str) -> None:
    """Once clamped silently (--unpack-processes -3 meant 0) or a traceback from deep in
    the HTTP stack (--timeout -1): now one line naming the option, before any work."""
    before = tree_snapshot(venv.parent.parent)
    proc = run_cli("install", "-p", str(venv), "-i", index.url, "--no-cache", *args,
                   "simple", env=env)
    assert (proc.returncode, proc.stderr.strip()) == (2, expected)
    assert tree_snapshot(venv.parent.parent) == before
    proc = run_cli("provision", "-j", "0", str(venv))
    assert proc.returncode == 2 and "-j/--max-workers: must be 1 or more, not 0" in proc.stderr


def test_a_target_that_is_a_file_is_one_clear_error(index: IndexServer, tmp_path: Path,
                                                    venv: Path) -> None:
    """Once a traceback from taking the environment lock (mkdir of the target)."""
    blocker = tmp_path / "plugins"
    blocker.write_text("not a directory\n")
    proc = run_cli("install", "-p", str(venv), "-i", index.url, "--no-cache", "--target",
                   str(blocker), "simple")
    assert (proc.returncode, proc.stderr.strip()) == (
        1, f"error: cannot install into {blocker}: it is a file, not a directory")
    assert blocker.read_text() == "not a directory\n"
    proc = run_cli("install", "-p", str(venv), "-i", index.url, "--no-cache", "--target",
                   str(blocker / "sub"), "simple")
    assert proc.returncode == 1 and proc.stderr.startswith(
        f"error: cannot install into {blocker / 'sub'}: ") and "Traceback" not in proc.stderr


@pytest.mark.parametrize(("script", "says"), [
    ("exit 1", "no output"),
    ("echo 'not json'", "what it printed is not the probe's answer"),
])
def test_a_python_that_is_not_python_is_named_with_a_hint(tmp_path: Path, script: str,
                                                          says: str) -> None:
    fake = tmp_path / "python3"
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(0o755)
    proc = run_cli("install", "-p", str(fake), "--no-cache", "simple")
    assert (proc.returncode, proc.stderr.strip()) == (
        1, f"error: the target interpreter {fake} failed to describe itself (is it Python "
           f"3.8 or later?): {says}")


def test_a_path_to_nothing_is_named_before_any_work(index: IndexServer, venv: Path,
                                                    tmp_path: Path) -> None:
    before = tree_snapshot(venv.parent.parent)
    for missing in ("./dist/simple-9.0-py3-none-any.whl", "./nothing.whl"):
        index.requests.clear()
        proc = run_cli("install", "-p", str(venv), "-i", index.url, "--no-cache", missing,
                       cwd=tmp_path)
        assert (proc.returncode, proc.stderr.strip()) == (
            2, f"error: '{missing}' looks like a path, and there is no such file or "
               f"directory ({tmp_path / missing[2:]})")
        assert index.requests == []
    proc = run_cli("install", "-p", str(venv), "--no-cache", "-e", str(tmp_path / "nope"))
    assert proc.returncode == 2 and "there is no such file or directory" in proc.stderr
    assert tree_snapshot(venv.parent.parent) == before


def test_a_relative_path_to_the_interpreter_is_that_file_not_one_on_path(
        index: IndexServer, venv: Path, tmp_path: Path) -> None:
    # "./python" in a venv's bin directory is that venv's interpreter; it used to reach
    # the subprocess as "python", which runs whichever one PATH finds (here: none)
    nothing = tmp_path / "nothing-on-path"
    nothing.mkdir()
    proc = run_cli("install", "-p", "./python", "-i", index.url, "--no-cache", "simple==1.0",
                   cwd=venv.parent, env={"PATH": str(nothing)})
    assert proc.returncode == 0, proc.stderr
    assert run_in(venv, "import simple; print(simple.VERSION)") == "1.0"


def test_report_destination_is_checked_before_installing(index: IndexServer, venv: Path,
                                                         tmp_path: Path) -> None:
    """An unwritable --report path was a traceback after the install had changed the
    environment; now it is a usage error before anything happens. A report file made
    for a command that then fails is not left behind; one already there is untouched."""
    before = tree_snapshot(venv.parent.parent)
    for bad, reason in ((tmp_path / "missing" / "r.json", "No such file or directory"),
                        (tmp_path, "Is a directory")):
        proc = _install(index.url, venv, "--report", str(bad), "simple")
        assert (proc.returncode, proc.stderr.strip()) == (
            2, f"error: cannot write the report to {bad}: {reason}")
        assert tree_snapshot(venv.parent.parent) == before
    new = tmp_path / "new.json"
    proc = _install(index.url, venv, "--report", str(new), "nosuchproject")
    assert proc.returncode == 1 and not new.exists()
    old = tmp_path / "old.json"
    old.write_text("earlier report\n")
    proc = _install(index.url, venv, "--report", str(old), "nosuchproject")
    assert proc.returncode == 1 and old.read_text() == "earlier report\n"
    proc = _install(index.url, venv, "--report", str(old), "simple==1.0")
    assert proc.returncode == 0, proc.stderr
    assert [i["metadata"]["name"] for i in json.loads(old.read_text())["install"]] == [
        "simple"]


def test_conflict_message_explains_who_requires_what(index: IndexServer, venv: Path) -> None:
    proc = _install(index.url, venv, "conflict-a", "conflict-b")
    line = proc.stderr.strip()
    assert "conflict-a 1.0 requires shared<2" in line
    assert "conflict-b 1.0 requires shared>=2" in line
    assert "shared versions available: 1.0, 2.0" in line


@pytest.mark.parametrize("status", [404, 500, 503])
def test_index_http_errors(index: IndexServer, venv: Path, status: int) -> None:
    index.fail["simple"] = status
    before = tree_snapshot(venv.parent.parent)
    proc = _install(index.url, venv, "simple")
    assert proc.returncode == 1
    line = proc.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in proc.stderr
    if status == 404:
        assert "no project named 'simple' was found" in line
    else:
        assert f"returned HTTP {status}" in line and "'simple'" in line
    assert tree_snapshot(venv.parent.parent) == before


def test_index_unreachable(venv: Path) -> None:
    before = tree_snapshot(venv.parent.parent)
    proc = _install(f"http://127.0.0.1:{_closed_port()}/simple/", venv, "simple")
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("error: cannot reach http://127.0.0.1:")
    assert "'simple'" in proc.stderr and "connection refused" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert tree_snapshot(venv.parent.parent) == before


def test_install_output_and_dry_run(index: IndexServer, venv: Path) -> None:
    before = tree_snapshot(venv.parent.parent)
    dry = _install(index.url, venv, "app", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "Would install 2 packages" in dry.stdout and " + app==1.0" in dry.stdout
    assert tree_snapshot(venv.parent.parent) == before
    real = _install(index.url, venv, "app")
    assert real.returncode == 0, real.stderr
    out = real.stdout.splitlines()
    assert out[0].startswith("Resolved 2 packages in ")
    assert out[1].startswith("Prepared 2 packages in ")
    assert out[2].startswith("Installed 2 packages in ")
    assert out[3:] == [" + app==1.0", " + lib==1.1"]
    up = _install(index.url, venv, "-U", "lib==1.0")
    assert " - lib==1.1" in up.stdout and " + lib==1.0" in up.stdout


def test_report_has_pips_fields(index: IndexServer, venv: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    before = tree_snapshot(venv.parent.parent)
    proc = _install(index.url, venv, "app[extra]", "--dry-run", "--report", str(report))
    assert proc.returncode == 0, proc.stderr
    assert tree_snapshot(venv.parent.parent) == before
    data = json.loads(report.read_text())
    assert data["version"] == "1" and isinstance(data["pip_version"], str)
    assert set(data["environment"]) >= {"python_version", "sys_platform", "platform_machine"}
    by_name = {i["metadata"]["name"]: i for i in data["install"]}
    assert set(by_name) == {"app", "lib", "helper"}
    app = by_name["app"]
    assert app["requested"] is True and app["requested_extras"] == ["extra"]
    assert by_name["lib"]["requested"] is False
    for item in data["install"]:
        assert set(item) >= {"download_info", "is_direct", "is_yanked", "requested", "metadata"}
        info = item["download_info"]
        assert info["url"].startswith("http://127.0.0.1:") and info["url"].endswith(".whl")
        assert set(info["archive_info"]["hashes"]) == {"sha256"}
        assert info["archive_info"]["hash"].startswith("sha256=")
        assert item["metadata"]["metadata_version"] and item["metadata"]["version"]
    assert app["metadata"]["requires_dist"] == ["lib>=1.0", 'helper; extra == "extra"']
    assert app["metadata"]["provides_extra"] == ["extra"]


def test_requirements_and_constraints_files(index: IndexServer, venv: Path,
                                            tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("lib  # the library\n")
    (tmp_path / "cons.txt").write_text("lib<1.1\n")
    (tmp_path / "reqs.txt").write_text(
        f"--index-url {index.url}\n-r base.txt\n-c cons.txt\n"
        "simple \\\n  <3 ; python_version >= '3.0'\n"
        "helper ; python_version < '3.0'\n")
    proc = run_cli("install", "-p", str(venv), "--no-cache", "-r", str(tmp_path / "reqs.txt"))
    assert proc.returncode == 0, proc.stderr
    assert " + lib==1.0" in proc.stdout and " + simple==2.0" in proc.stdout
    assert "helper" not in proc.stdout


def test_hash_option_must_match(index: IndexServer, venv: Path, tmp_path: Path) -> None:
    (tmp_path / "reqs.txt").write_text("simple==2.0 --hash=sha256:" + "ab" * 32 + "\n")
    before = tree_snapshot(venv.parent.parent)
    proc = run_cli("install", "-p", str(venv), "-i", index.url, "--no-cache",
                   "-r", str(tmp_path / "reqs.txt"))
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: hash mismatch for 'simple'")
    assert tree_snapshot(venv.parent.parent) == before


def test_bad_requirement_and_missing_environment(tmp_path: Path) -> None:
    proc = run_cli("install", "-p", str(tmp_path / "venv"), "simple")
    assert proc.returncode == 1 and proc.stderr.startswith("error: no Python interpreter at")
    proc = run_cli("install", "-p", str(tmp_path), "not a requirement!")
    assert proc.returncode == 2 and "invalid requirement" in proc.stderr
    proc = run_cli("install", "simple", cwd=tmp_path)
    assert proc.returncode == 2 and "no environment to install into" in proc.stderr


def test_version_flag() -> None:
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("pyinst ")


#: ``python -m pyinst``, saying so if the interpreter is torn down as usual at the end
_TEARDOWN_WATCH = """
import atexit, runpy, sys
atexit.register(lambda: sys.stderr.write("interpreter torn down\\n"))
sys.argv = ["pyinst", *sys.argv[1:]]
runpy.run_module("pyinst", run_name="__main__", alter_sys=True)
"""


def test_the_command_leaves_at_once_with_all_its_output_and_its_exit_code(
        index: IndexServer, venv: Path, tmp_path: Path) -> None:
    """Once the work is done, the command's process ends without the interpreter's
    teardown (tens of milliseconds of freeing objects), its output all written, its
    exit code kept and its temporary files gone, whether it succeeded or not."""
    watch = ("-c", _TEARDOWN_WATCH)
    temp_root = tmp_path / "tmp"
    temp_root.mkdir()
    done = run_cli("install", "-p", str(venv), "-i", index.url, "--no-cache", "app",
                   launcher=watch, env={"TMPDIR": str(temp_root)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-2:] == [" + app==1.0", " + lib==1.1"]
    assert list(temp_root.iterdir()) == []  # the throw-away cache was removed
    listed = run_cli("freeze", "-p", str(venv), launcher=watch)
    assert (listed.returncode, listed.stdout, listed.stderr) == (0, "app==1.0\nlib==1.1\n", "")
    failed = run_cli("install", "-p", str(venv), "-i", index.url, "--no-cache",
                     "nosuchproject", launcher=watch)
    assert failed.returncode == 1
    assert failed.stderr == (f"error: no project named 'nosuchproject' was found "
                             f"({index.url})\n")


def test_install_user_goes_to_the_user_site_and_pip_sees_it(
        index: IndexServer, venv: Path, tmp_path: Path) -> None:
    base = find_python("3.12")
    userbase = tmp_path / "userbase"
    env = {"PYTHONUSERBASE": str(userbase)}
    proc = run_cli("install", "-p", str(base), "-i", index.url, "--no-cache", "--user",
                   "simple", env=env)
    assert proc.returncode == 0, proc.stderr
    site = userbase / "lib" / "python3.12" / "site-packages"
    assert (site / "simple").is_dir()
    where = subprocess.run([str(base), "-c", "import simple; print(simple.__file__)"],
                           capture_output=True, text=True, check=True,
                           env={**os.environ, **env}).stdout
    assert where.startswith(str(site))
    # into a venv, --user is refused the way pip refuses it; with --target it is a usage error
    proc = run_cli("install", "-p", str(venv), "-i", index.url, "--user", "simple")
    assert proc.returncode == 1 and "not visible in the virtual environment" in proc.stderr
    proc = run_cli("install", "--target", str(tmp_path / "t"), "--user", "simple")
    assert proc.returncode == 2 and "--user cannot be combined" in proc.stderr


_ARENAS = """
import ctypes, gc, sys, threading
from pathlib import Path

young_before = gc.get_threshold()[0]

def arenas():
    libc = ctypes.CDLL(None)
    libc.fopen.restype = ctypes.c_void_p
    libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    libc.fclose.argtypes = [ctypes.c_void_p]
    out = Path(sys.argv[1])
    fp = libc.fopen(bytes(out), b"w")
    libc.malloc_info(0, fp)
    libc.fclose(fp)
    return out.read_text().count("<heap nr=")

if sys.argv[2] == "cli":
    from pyinst.cli import main
    assert main(sys.argv[3:]) == 0
else:
    from pyinst import Config, Installer, Target
    with Installer(Config(index_urls=(sys.argv[4],), cache_dir=None)) as inst:
        inst.install(["app"], Target.from_python(sys.argv[3]), dry_run=True)
# eight threads allocating at the same time: glibc would give each an arena of its own
barrier = threading.Barrier(8)
def allocate():
    held = bytearray(200_000)
    barrier.wait()
threads = [threading.Thread(target=allocate) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print(arenas(), young_before, gc.get_threshold()[0])
"""


@pytest.mark.skipif(not hasattr(os, "confstr") or "glibc" not in (os.confstr(
    "CS_GNU_LIBC_VERSION") or ""), reason="glibc's malloc arenas")
@pytest.mark.parametrize("caller", ["cli", "library"])
def test_the_command_line_tunes_malloc_and_the_collector_and_the_library_leaves_them(
    index: IndexServer, venv: Path, tmp_path: Path, caller: str
) -> None:
    """Each thread's own malloc arena keeps what was freed in it: the command line,
    which owns its process, limits them to two, and lets the cyclic collector run less
    often; an embedding application's process is its own to tune."""
    args = ["cli", "install", "-q", "--dry-run", "--no-cache", "-p", str(venv), "-i",
            index.url, "app"] if caller == "cli" else ["library", str(venv), index.url]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PYINST_") and k != "MALLOC_ARENA_MAX"}
    env["PYINST_CONFIG_FILE"] = os.devnull + ".none.toml"
    done = subprocess.run([sys.executable, "-c", _ARENAS, str(tmp_path / "info.xml"), *args],
                          capture_output=True, text=True, env=env, check=True)
    arenas, young_before, young_after = map(int, done.stdout.split()[-3:])
    if caller == "cli":
        assert arenas <= 2
        assert young_before < young_after == 10_000
    else:
        assert arenas > 2
        assert young_after == young_before


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A plain loopback HTTP server of a directory: yields its base URL and the directory."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    root = tmp_path / "served"
    root.mkdir()

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


def test_a_requirements_file_at_a_url_is_read_with_what_it_includes(
        index: IndexServer, venv: Path, tmp_path: Path,
        file_server: tuple[str, Path]) -> None:
    base, root = file_server
    (root / "reqs").mkdir()
    # the index comes from the file itself, as from a local one
    (root / "reqs" / "r.txt").write_text(f"--index-url {index.url}\napp\n-r more.txt\n"
                                         "-c ../cons.txt\n")
    (root / "reqs" / "more.txt").write_bytes("simple\n".encode("utf-16"))
    (root / "cons.txt").write_text("simple<2\n")
    proc = run_cli("install", "-p", str(venv), "--no-cache", "-r", f"{base}/reqs/r.txt")
    assert proc.returncode == 0, proc.stderr
    assert run_in(venv, "import app, lib, simple; print(simple.VERSION)") == "1.0"
    lock = tmp_path / "pylock.toml"
    proc = run_cli("lock", "-p", str(venv), "--no-cache", "-r", f"{base}/reqs/r.txt",
                   "-o", str(lock))
    assert proc.returncode == 0, proc.stderr
    assert 'name = "simple"\nversion = "1.0"' in lock.read_text()


def test_a_requirements_file_at_a_url_that_cannot_be_read_is_one_line(
        venv: Path, file_server: tuple[str, Path]) -> None:
    base, _ = file_server
    before = tree_snapshot(venv.parent.parent)
    proc = run_cli("install", "-p", str(venv), "--no-cache", "--retries", "0",
                   "-r", f"{base}/missing.txt")
    assert (proc.returncode, proc.stderr.strip()) == (
        1, f"error: cannot read the requirements file {base}/missing.txt: {base}/missing.txt "
           "returned HTTP 404")
    proc = run_cli("install", "-p", str(venv), "--offline", "-r", f"{base}/missing.txt")
    assert proc.returncode == 1 and "--offline forbids fetching it" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert tree_snapshot(venv.parent.parent) == before


def test_run_a_script_at_a_url(index: IndexServer, tmp_path: Path,
                               file_server: tuple[str, Path]) -> None:
    base, root = file_server
    (root / "tool.py").write_text(
        "# /// script\n# dependencies = ['simple==1.0']\n# ///\n"
        "import pathlib, simple, sys\n"
        "print(simple.VERSION, sys.argv[1:], pathlib.Path(__file__).name)\n"
        "sys.exit(3)\n")
    proc = run_cli("run", "-i", index.url, "--cache-dir", str(tmp_path / "cache"),
                   f"{base}/tool.py", "a", "b")
    assert (proc.returncode, proc.stdout.strip()) == (3, "1.0 ['a', 'b'] tool.py"), \
        proc.stderr
    proc = run_cli("run", "-i", index.url, "--cache-dir", str(tmp_path / "cache"),
                   "--retries", "0", f"{base}/gone.py")
    assert (proc.returncode, proc.stderr.strip()) == (
        1, f"error: cannot read the script {base}/gone.py: {base}/gone.py returned HTTP 404")
