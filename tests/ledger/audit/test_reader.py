"""The replay's reader process (``ledger.audit.reader``): what it reads makes the same report as the
threads' reading, the signers it recovers ahead are the replay's own, and a reader that dies or fails
is a typed error, never a wait. On anvil only: the process reads over HTTP."""

from __future__ import annotations

import json
import os
import signal
from typing import Any

import pytest

from ledger.audit import AuditError, LedgerModels, Replayer, ReplayResult, machine, reader
from ledger.audit.errors import ReaderStopped
from ledger.audit.state import TOKEN
from ledger.eth.rpc import Rpc, RpcFailed
from tests.ledger.audit.helpers import audit, deployment_of
from tests.support.deployments import Deployed
from tests.support.escrow import World, open_world
from tests.support.worlds import world_fixtures

module_world, world = world_fixtures(open_world)


def _everything(result: ReplayResult) -> list[Any]:
    """All a replay hands on, its report without the times it took."""
    report = result.report.to_json()
    del report["seconds"], report["timings"]
    return [
        json.dumps(report, sort_keys=True, default=str),
        repr(result.state),
        result.to_block_timestamp,
        repr(result.domains),
        repr(result.logs),
        repr(result.headers),
        repr(result.quiet_calls),
        result.checkpoints,
    ]


@pytest.mark.parametrize("ahead", [False, True], ids=["as-it-goes", "every-page-decoded-and-signers-recovered-ahead"])
def test_a_replay_read_by_the_reader_process_hands_on_exactly_what_the_threads_read(
    world: World, deployed: Deployed, monkeypatch: pytest.MonkeyPatch, ahead: bool
) -> None:
    if ahead:  # as if the replay were always behind: the reader works ahead on every page
        monkeypatch.setattr(reader._Outbox, "behind", property(lambda _: True))
    by_process = audit(deployed, keep_logs=True)
    by_threads = audit(deployed, keep_logs=True, reader="thread")
    assert "waiting_for_reader" in by_process.report.timings  # the process read it (the default over HTTP)
    assert "waiting_for_reader" not in by_threads.report.timings
    assert by_process.ok and by_process.report.counts.signatures > 0
    assert _everything(by_process) == _everything(by_threads)


def test_the_signers_recovered_ahead_are_those_the_replay_recovers_itself(
    world: World, deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: dict[tuple[bytes, bytes], str | None] = {}
    recover = machine.recover_signer

    def recorded(digest: bytes, signature: bytes) -> str | None:
        asked[(digest, signature)] = found = recover(digest, signature)
        return found

    monkeypatch.setattr(machine, "recover_signer", recorded)
    result = audit(deployed, keep_logs=True, reader="thread")
    assert result.logs is not None
    txs = Rpc(deployed.chain).transactions(list(dict.fromkeys(raw.tx_hash for raw in result.logs)))
    deployment = deployment_of(deployed)
    replayer = Replayer(LedgerModels(deployment.addresses), deployment.chain_id, result.domains[TOKEN].name)
    settings = reader.ReaderSettings(
        deployment.chain_id, dict(deployment.addresses), dict(deployment.abis), 0, result.report.to_block
    )
    decoded, ahead = reader._Ahead(settings, replayer).of(txs)
    assert ahead, "the world's orders and attestations carry signatures their calldata gives"
    assert ahead.items() <= asked.items()
    assert {name for name, _ in decoded.values()} >= {"createOrder", "attest"}


def test_a_reader_killed_before_it_sends_anything_is_a_typed_error(
    world: World, deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader, "_read", lambda *_: os.kill(os.getpid(), signal.SIGKILL))
    with pytest.raises(ReaderStopped) as stopped:
        audit(deployed)
    assert stopped.value.exitcode == -signal.SIGKILL
    assert isinstance(stopped.value, AuditError)


def test_a_reader_killed_after_its_first_page_is_a_typed_error(
    world: World, deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    put = reader._Outbox.put

    def first_page_only(outbox: Any, message: tuple[Any, ...]) -> None:
        if getattr(outbox, "sent_one", False) or message[0] != "page":
            os.kill(os.getpid(), signal.SIGKILL)
        outbox.sent_one = True
        put(outbox, message)

    monkeypatch.setattr(reader._Outbox, "put", first_page_only)
    with pytest.raises(ReaderStopped):
        audit(deployed)


def test_an_error_in_the_reader_is_raised_in_the_replay(
    world: World, deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(*_: Any) -> None:
        raise ValueError("the node said no")

    monkeypatch.setattr(reader, "_read", refused)
    with pytest.raises(ValueError, match="the node said no"):
        audit(deployed)

    def unpicklable(*_: Any) -> None:
        raise RpcFailed("eth_getLogs", "refused")  # its arguments are not its constructor's

    monkeypatch.setattr(reader, "_read", unpicklable)
    with pytest.raises(AuditError, match="RpcFailed: eth_getLogs: refused"):
        audit(deployed)
