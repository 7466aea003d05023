"""The old command spellings (`reason`, `verify-eval`, `calibrate`) still run, as aliases of the stage's commands
(`verify run|eval|calibrate`), and say so in one line on stderr."""

from __future__ import annotations

import pytest

from workbench.cli import ALIASES, build_parser, resolve_alias


@pytest.mark.parametrize(("old", "new"), [("reason", ["verify", "run"]), ("verify-eval", ["verify", "eval"]),
                                          ("calibrate", ["verify", "calibrate"])])
def test_an_old_spelling_runs_the_new_command_and_says_so_once(old, new, capsys):
    argv = resolve_alias(["--db", "x.db", old, "--json"])
    assert argv == ["--db", "x.db", *new, "--json"]
    notice = capsys.readouterr().err.strip().splitlines()
    assert notice == [f"`workbench {old}` is now `workbench {' '.join(new)}`; the old name will go"]


def test_a_new_spelling_passes_unchanged_and_quietly(capsys):
    assert resolve_alias(["--db=x.db", "verify", "run", "--tasks", "seed:all"]) == [
        "--db=x.db", "verify", "run", "--tasks", "seed:all"]
    assert resolve_alias(["seeds", "list"]) == ["seeds", "list"]
    assert capsys.readouterr().err == ""


NEW_COMMANDS = [["verify", "run", "--tasks", "seed:all"], ["verify", "eval", "steps.jsonl"], ["verify", "calibrate"]]


def test_every_alias_names_a_command_the_parser_knows():
    assert sorted(ALIASES.values()) == sorted(tuple(argv[:2]) for argv in NEW_COMMANDS)
    for argv in NEW_COMMANDS:
        assert callable(build_parser().parse_args(argv).func)
