"""Sessions: tests, lint, typecheck (and bench, once benchmarks land)."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["tests", "lint", "typecheck"]


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite (unit, integration against a loopback index, network) in parallel."""
    session.install("-e", ".[test]")
    args = session.posargs or ["-n", "auto", "--durations=10"]
    session.run("pytest", *args)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", "src", "tests", "benchmarks", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("mypy", "-e", ".")
    session.run("mypy")


@nox.session
def bench(session: nox.Session) -> None:
    """pyinst vs uv vs pip on one local mirror; writes benchmarks/results/."""
    session.install(".", "uv", "pip")  # a snapshot: editing the tree mid-run changes nothing
    session.run("python", "benchmarks/bench.py", *session.posargs)
