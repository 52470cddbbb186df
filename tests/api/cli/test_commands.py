"""The ``scf`` commands' parsers and the typed options behind them, in process (no chain needed)."""

from __future__ import annotations

import argparse
import dataclasses
import json

import pytest

import api.cli
from api.cli import index, score, serve
from api.cli.errors import CommandError, is_domain_error
from ledger.errors import LedgerError

EVERY_COMMAND = (
    ["contracts", "build"],
    ["devnet", "up"],
    ["devnet", "status"],
    ["devnet", "down"],
    ["devnet", "reset"],
    ["deploy"],
    ["keys", "export-dev"],
    ["oracle", "serve"],
    ["oracle", "aggregate"],
    ["oracle", "client", "add"],
    ["oracle", "client", "remove"],
    ["index"],
    ["audit", "replay"],
    ["simulate"],
    ["score"],
    ["serve"],
    ["verify", "receivable"],
    ["fingerprint", "compute"],
    ["fingerprint", "new-key"],
    ["demo"],
    ["demo", "story"],
    ["demo", "run-main"],
    ["demo", "token"],
)


@pytest.mark.parametrize("command", EVERY_COMMAND, ids=" ".join)
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        api.cli.main([*command, "--help"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: scf {' '.join(command)}")


def test_an_unknown_command_is_refused_with_the_usage_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        api.cli.main(["deplyo"])
    assert exited.value.code == 2
    assert "invalid choice: 'deplyo'" in capsys.readouterr().err


def test_defaults_named_in_the_parsers_are_the_libraries_own() -> None:
    # The command modules repeat these so that building the parser imports no ledger or scoring code.
    from ledger.index.indexer import DEFAULT_WINDOW
    from ledger.index.pages import START_SPAN
    from scoring.source import DEFAULT_CONFIRMATIONS

    assert (index.DEFAULT_WINDOW, index.START_SPAN) == (DEFAULT_WINDOW, START_SPAN)
    assert score.DEFAULT_CONFIRMATIONS == DEFAULT_CONFIRMATIONS
    assert score.DEFAULT_MODEL.is_file(), "the shipped model is where `scf score` looks for it"


def test_serve_options_from_the_command_line_survive_the_trip_to_a_worker_process() -> None:
    args = api.cli.parser().parse_args(
        [
            "serve",
            "--port",
            "8123",
            "--workers",
            "2",
            "--index",
            "--devnet",
            "--rpc-timeout",
            "1.5",
            "--db",
            "sqlite://",
        ]
    )
    options = serve.ServeOptions.of(args)
    assert (options.port, options.workers, options.index, options.devnet, options.rpc_timeout, options.db) == (
        8123,
        2,
        True,
        True,
        1.5,
        "sqlite://",
    )
    assert serve.ServeOptions.of(api.cli.parser().parse_args(["serve"])) == serve.ServeOptions()
    # What `--workers N` hands each worker through the environment, and what the worker rebuilds.
    assert serve.ServeOptions(**json.loads(json.dumps(dataclasses.asdict(options)))) == options


@pytest.mark.parametrize("value", ["0", "601", "soon"])
def test_a_bad_rpc_timeout_is_a_command_error_naming_it(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(serve.RPC_TIMEOUT_ENV, value)
    with pytest.raises(serve.ServeError, match=r"RPC timeout|SCF_RPC_TIMEOUT") as refused:
        serve.rpc_timeout(serve.ServeOptions())
    assert isinstance(refused.value, CommandError)


def test_domain_errors_are_told_from_bugs_by_the_loaded_roots() -> None:
    assert is_domain_error(LedgerError("no node"))
    assert is_domain_error(serve.ServeError("port taken"))
    assert not is_domain_error(ValueError("a bug"))
    assert not is_domain_error(LedgerError("no node"), ("no.such.module:Error",))


def test_a_domain_error_in_a_handler_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(serve.RPC_TIMEOUT_ENV, "soon")
    assert api.cli.main(["serve", "--db", "sqlite://"]) == 2
    assert capsys.readouterr().err == "error: SCF_RPC_TIMEOUT must be a number of seconds, got 'soon'\n"


def test_a_bug_in_a_handler_is_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_args: argparse.Namespace) -> int:
        raise ZeroDivisionError

    monkeypatch.setattr(serve, "cmd_serve", broken)
    with pytest.raises(ZeroDivisionError):
        api.cli.main(["serve"])
