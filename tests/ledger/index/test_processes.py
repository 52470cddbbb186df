"""The indexer as a process: killed with SIGKILL mid catch-up, two at once, and following the chain."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine

from ledger import paths
from ledger.index.indexer import DatabaseLocked
from ledger.index.sql import database_digest, table_snapshot
from tests.ledger.index.checks import assert_database_is_the_chain, chain_digest, cursor_of
from tests.support.escrow import acct, addr, tokens_of
from tests.support.index_chain import IndexChain

UNIT = 10**6


def index_command(index_chain: IndexChain, engine: Engine, *extra: str) -> list[str]:
    url = engine.url.render_as_string(hide_password=False)
    return [
        sys.executable,
        "-m",
        "api.cli.index",
        "--db",
        url,
        "--chain",
        index_chain.chain.endpoint,
        "--deployment",
        str(index_chain.record),
        "--quiet",
        *extra,
    ]


def run_index(index_chain: IndexChain, engine: Engine, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        index_command(index_chain, engine, *extra),
        cwd=paths.project_root(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def wait_for(condition: Callable[[], bool], timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_an_indexer_killed_mid_catch_up_restarts_to_the_same_database(
    index_chain: IndexChain, database: Engine, new_database: Callable[[], Engine]
) -> None:
    chain_id, head = index_chain.chain.chain_id, index_chain.chain.block_number
    # One or two blocks a page, a short pause after each commit: the kill lands mid catch-up.
    slow = index_command(index_chain, database, "--span", "1", "--max-span", "2", "--pause", "0.03")
    process = subprocess.Popen(slow, cwd=paths.project_root(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:

        def progressed() -> bool:
            cursor = cursor_of(database, chain_id)
            return cursor is not None and cursor["block_number"] >= head // 3

        wait_for(progressed, what="the indexer to write a third of the chain")
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
    assert process.returncode == -signal.SIGKILL

    # What was committed is a consistent prefix of the history: rows and cursor together.
    killed = cursor_of(database, chain_id)
    assert killed is not None and killed["block_number"] < head
    assert chain_digest(index_chain.deployed, killed["block_number"]) == (killed["digest"], killed["event_count"])
    assert database_digest(database, chain_id) == (killed["digest"], killed["event_count"])

    restarted = run_index(index_chain, database)
    assert restarted.returncode == 0, restarted.stderr
    assert "this run wrote" in restarted.stdout

    single = new_database()
    with index_chain.indexer(single) as indexer:
        indexer.run()
    assert table_snapshot(database, chain_id) == table_snapshot(single, chain_id)
    assert_database_is_the_chain(database, index_chain.deployed)


def test_a_second_indexer_on_the_same_database_is_refused_naming_the_first(
    index_chain: IndexChain, database: Engine
) -> None:
    with index_chain.indexer(database) as first:
        first.run()
        with pytest.raises(DatabaseLocked) as refused:
            index_chain.indexer(database).open()
        assert f"pid {os.getpid()}" in str(refused.value)
        # And from the command line: a clear message, a non-zero exit, nothing written.
        second = run_index(index_chain, database)
        assert second.returncode == 2
        assert "another indexer is writing to" in second.stderr and f"pid {os.getpid()}" in second.stderr
    # Once the first lets go, the next one may write.
    with index_chain.indexer(database) as third:
        assert third.run().caught_up


def test_follow_mode_keeps_up_with_new_blocks_until_stopped(index_chain: IndexChain, database: Engine) -> None:
    chain, deployed = index_chain.chain, index_chain.deployed
    snapshot = chain.snapshot()
    stop = threading.Event()
    try:
        with index_chain.indexer(database, poll=0.05) as indexer:
            follower = threading.Thread(target=lambda: indexer.run(follow=True, stop=stop), daemon=True)
            follower.start()
            wait_for(lambda: indexer.cursor[0] == chain.block_number, what="the catch-up")
            tokens = tokens_of(deployed)
            for amount in (1, 2, 3):
                tokens.transfer(addr(deployed, "tier2"), amount * UNIT, acct(deployed, "core"))
            wait_for(lambda: indexer.cursor[0] == chain.block_number, what="the new blocks")
            stop.set()
            follower.join(timeout=10)
            assert not follower.is_alive()
        assert_database_is_the_chain(database, deployed)
    finally:
        stop.set()
        chain.revert(snapshot)


def test_the_command_line_follows_and_stops_cleanly_on_sigterm(index_chain: IndexChain, database: Engine) -> None:
    process = subprocess.Popen(
        index_command(index_chain, database, "--follow", "--poll", "0.05"),
        cwd=paths.project_root(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        chain_id, head = index_chain.chain.chain_id, index_chain.chain.block_number

        def caught_up() -> bool:
            cursor = cursor_of(database, chain_id)
            return cursor is not None and cursor["block_number"] == head

        wait_for(caught_up, what="the follower to catch up")
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert f"block {head}" in out


def test_the_database_defaults_to_scf_db_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from ledger.index.sql import database_url

    monkeypatch.setenv("SCF_DB_URL", "postgresql://postgres@127.0.0.1:5432/x")
    assert database_url() == "postgresql+psycopg://postgres@127.0.0.1:5432/x"
    monkeypatch.delenv("SCF_DB_URL")
    monkeypatch.setenv("SCF_DEVNET_RUN_DIR", str(tmp_path))
    assert database_url() == f"sqlite:///{tmp_path / 'ledger.db'}"


def test_register_adds_the_index_command_to_a_command_line() -> None:
    import argparse

    from api.cli.index import cmd_index, register

    top = argparse.ArgumentParser(prog="scf")
    register(top.add_subparsers(dest="command", required=True))
    args = top.parse_args(["index", "--follow", "--db", "sqlite://", "--confirmations", "3", "--from-block", "7"])
    chosen = (args.func, args.follow, args.db, args.confirmations, args.from_block)
    assert chosen == (cmd_index, True, "sqlite://", 3, 7)
