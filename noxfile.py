"""Sessions: tests, lint, typecheck, docs, bench."""

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
    session.run("ruff", "check", "src", "tests", "benchmarks", "docs", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("mypy", "-e", ".")
    session.run("mypy")


@nox.session
def bench(session: nox.Session) -> None:
    """pyinst vs uv vs pip on one local mirror; writes benchmarks/results/."""
    session.install(".", "uv", "pip")  # a snapshot: editing the tree mid-run changes nothing
    session.run("python", "benchmarks/bench.py", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """The docs site (Sphinx, MyST Markdown, furo) into docs/_build/html; any warning
    fails the build. The CLI reference and the benchmark chart are generated."""
    session.install("-e", ".", "sphinx>=8", "myst-parser>=4", "furo", "matplotlib",
                    "pytest", "pytest-timeout")
    session.run("pytest", "-q", "-p", "no:cacheprovider", "tests/unit/test_docs_site.py",
                "tests/unit/test_docs_examples.py")
    session.run("sphinx-build", "-W", "--keep-going", "-q", "-E", "-b", "html", "docs",
                "docs/_build/html", *session.posargs)
