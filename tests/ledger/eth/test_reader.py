"""The view reader: its code is its source's, and it answers as one eth_call per view would."""

from __future__ import annotations

import pytest
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode

from ledger.audit.views import ViewFn
from ledger.eth import reader
from ledger.eth.rpc import Rpc, RpcFailed
from ledger.toolchain import compiler
from tests.support.deployments import Deployed
from tests.support.escrow import World, open_world
from tests.support.worlds import world_fixtures

module_world, world = world_fixtures(open_world)


def test_the_readers_code_is_what_its_source_compiles_to() -> None:
    _, artifacts, _ = compiler.compile_sources(
        {compiler.PROJECT_PREFIX + "ViewReader.sol": reader.SOURCE}, compiler.choose_backend()
    )
    assert artifacts["ViewReader"].deployed_bytecode == reader.RUNTIME


def test_the_readers_calldata_and_answers_are_the_abis() -> None:
    requests = [
        {"to": "0x" + "11" * 20, "data": "0x12345678"},
        {"to": "0x" + "22" * 20, "data": "0x" + "ab" * 36},
        {"to": "0x" + "33" * 20, "data": "0x"},
    ]
    expected = reader.SELECTOR + abi_encode(
        ["address[]", "bytes[]"], [[r["to"] for r in requests], [bytes.fromhex(r["data"][2:]) for r in requests]]
    )
    assert reader.encode_read(requests) == "0x" + expected.hex()
    answers = abi_encode(["bool[]", "bytes[]"], [[True, False], [b"\x01" * 40, b""]])
    assert reader.decode_read(answers) == [(True, b"\x01" * 40), (False, b"")]
    assert abi_decode(["bool[]", "bytes[]"], answers) == ((True, False), (b"\x01" * 40, b""))


@pytest.mark.parity
def test_views_read_through_the_reader_are_the_views_read_one_by_one(world: World, deployed: Deployed) -> None:
    escrow, receivables = deployed.addresses["TradeEscrow"], deployed.addresses["Receivables"]
    order_of = ViewFn(escrow, deployed.build["TradeEscrow"].abi, "orderOf")
    owner_of = ViewFn(receivables, deployed.build["Receivables"].abi, "ownerOf")
    pool = ViewFn(escrow, deployed.build["TradeEscrow"].abi, "pool")
    requests = [order_of.request(i) for i in range(1, 7)] + [
        owner_of.request(1),
        pool.request(deployed.accounts["bank"].address),
    ]
    block = deployed.chain.block_number
    through = Rpc(deployed.chain)
    plain = Rpc(deployed.chain)
    plain.use_reader = False
    via_reader, one_by_one = through.calls(requests, block), plain.calls(requests, block)
    assert [a for a in via_reader if not isinstance(a, RpcFailed)] == [
        a for a in one_by_one if not isinstance(a, RpcFailed)
    ]
    # ownerOf(1): no piece yet, so both revert (with the same ERC721NonexistentToken data where the node says it).
    assert isinstance(via_reader[6], RpcFailed) and isinstance(one_by_one[6], RpcFailed)
    assert via_reader[6].data == one_by_one[6].data or one_by_one[6].data is None
    assert order_of.decode(via_reader[0])[0][0][0] == deployed.accounts["core"].address  # type: ignore[arg-type]
    if deployed.backend == "anvil":
        assert through.use_reader, "anvil takes state overrides: the reader was used"
