"""Checking out ``git+`` requirements (``name @ git+https://host/repo.git@rev``).

Only git. Every git command gets its arguments in positions where they can never be
read as options: the URL after ``--``, the revision resolved with ``--end-of-options``
to a commit id (hex digits) before anything is checked out. Git never prompts (no
terminal is attached and ``GIT_TERMINAL_PROMPT=0``).
"""

from __future__ import annotations

import os
import re
import subprocess
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import BuildFailed, InvalidRequirement

_COMMIT = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")


@dataclass(frozen=True)
class VcsUrl:
    #: the repository URL git is given (without ``git+``, revision and fragment)
    repo: str
    #: the revision asked for (a branch, tag or commit), or None for the default branch
    rev: str | None
    subdirectory: str | None


def is_vcs_url(url: str) -> bool:
    return url.startswith("git+")


def parse_vcs_url(url: str) -> VcsUrl:
    """Split ``git+SCHEME://host/path@rev#subdirectory=dir``."""
    if not url.startswith("git+"):
        raise InvalidRequirement(f"{url}: only git+ URLs are supported for version control")
    base, _, fragment = url[4:].partition("#")
    parts = urllib.parse.urlsplit(base)
    if parts.scheme not in ("https", "http", "ssh", "file", "git"):
        raise InvalidRequirement(f"{url}: unsupported git URL scheme '{parts.scheme}'")
    path, rev = parts.path, None
    if "@" in path:
        path, rev = path.rsplit("@", 1)
        rev = urllib.parse.unquote(rev) or None
    if rev is not None and (rev.startswith("-") or any(c.isspace() for c in rev)):
        raise InvalidRequirement(f"{url}: invalid git revision {rev!r}")
    sub = urllib.parse.parse_qs(fragment).get("subdirectory", [None])[0]
    if sub is not None and (sub.startswith(("/", "\\")) or ".." in Path(sub).parts):
        raise InvalidRequirement(f"{url}: subdirectory must stay inside the repository")
    repo = urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))
    return VcsUrl(repo=repo, rev=rev, subdirectory=sub)


def checkout(url: VcsUrl, dest: Path, *, package: str,
             environ: Mapping[str, str] | None = None, timeout: float = 600.0) -> str:
    """Clone ``url`` into ``dest`` at its revision; return the commit id."""
    env = {**(os.environ if environ is None else environ), "GIT_TERMINAL_PROMPT": "0",
           "GIT_ASKPASS": "true"}

    def git(*args: str, cwd: Path | None = None) -> str:
        try:
            proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True,
                                  text=True, stdin=subprocess.DEVNULL, timeout=timeout,
                                  check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            raise BuildFailed(f"cannot get '{package}' from {url.repo}: git could not run "
                              f"({exc})", package=package) from None
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise BuildFailed(f"cannot get '{package}' from {url.repo}: git {args[0]} "
                              f"failed: {last}", package=package)
        return proc.stdout.strip()

    git("clone", "--quiet", "--no-checkout", "--", url.repo, str(dest))
    wanted = url.rev or "HEAD"
    try:
        commit = git("rev-parse", "--verify", "--quiet", "--end-of-options",
                     f"{wanted}^{{commit}}", cwd=dest)
    except BuildFailed:
        commit = ""
    if not _COMMIT.fullmatch(commit):
        raise BuildFailed(f"cannot get '{package}' from {url.repo}: it has no revision "
                          f"{wanted!r}", package=package)
    git("checkout", "--quiet", "--detach", commit, cwd=dest)
    return commit


def direct_url_info(url: VcsUrl, commit: str) -> dict[str, object]:
    """The PEP 610 ``vcs_info`` record of a checkout."""
    info: dict[str, object] = {"vcs": "git", "commit_id": commit}
    if url.rev:
        info["requested_revision"] = url.rev
    return info


__all__ = ["VcsUrl", "checkout", "direct_url_info", "is_vcs_url", "parse_vcs_url"]
