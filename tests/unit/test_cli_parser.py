"""`main` builds only the part of the command line that the first argument names: every
command must come out of that exactly as out of the whole parser."""

from __future__ import annotations

import argparse

import pytest

from pyinst.cli import _PARTS, build_parser


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("no subcommands")


def test_every_command_has_a_part() -> None:
    assert sorted(_commands(build_parser())) == sorted(_PARTS)


@pytest.mark.parametrize("command", sorted(_PARTS))
def test_a_commands_part_parses_and_helps_as_the_whole(command: str) -> None:
    whole, part = _commands(build_parser())[command], _commands(build_parser(command))
    assert command in part
    assert part[command].format_help() == whole.format_help()
    assert [(a.dest, a.option_strings, a.default, a.choices) for a in part[command]._actions] \
        == [(a.dest, a.option_strings, a.default, a.choices) for a in whole._actions]
