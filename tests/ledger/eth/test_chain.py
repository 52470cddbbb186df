"""The Chain wrapper behaves alike on every backend: signing, errors, time, snapshots."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from eth_abi import encode
from eth_account import Account
from eth_utils import function_signature_to_4byte_selector, keccak
from hexbytes import HexBytes
from web3.exceptions import TimeExhausted, TransactionNotFound

import ledger.eth.chain as chain_module
from ledger.errors import ChainUnavailable, ContractReverted, LedgerError
from ledger.eth.artifacts import BuildResult
from ledger.eth.chain import Chain, DeadlineHTTPProvider, ErrorDecoder
from ledger.toolchain.deploy import ROLE
from ledger.toolchain.devnet import Devnet
from tests.support.deployments import Deployed
from tests.support.node_faults import NodeFront
from tests.support.ports import free_port

# Both backends: the Chain wrapper must behave alike on each.
pytestmark = pytest.mark.parity


def test_custom_error_is_decoded_with_named_arguments(deployed: Deployed) -> None:
    stranger = deployed.accounts["relayer"]
    call = deployed.membership.functions.admit(stranger.address, ROLE["core"], 0, b"\x00" * 32)

    with pytest.raises(ContractReverted) as caught:
        deployed.chain.transact(call, stranger)

    assert caught.value.error == "MembershipUnauthorizedAccount"
    assert caught.value.error_args == {"account": stranger.address, "role": ROLE["admin"]}


def test_a_reverted_transaction_leaves_state_and_nonces_usable(deployed: Deployed) -> None:
    chain, admin = deployed.chain, deployed.accounts["admin"]
    before = chain.call(deployed.membership.functions.memberCount())
    with pytest.raises(ContractReverted):
        chain.transact(deployed.membership.functions.admit(admin.address, ROLE["core"], 0, b"\x00" * 32), admin)

    newcomer = deployed.accounts["relayer"].address
    chain.transact(deployed.membership.functions.admit(newcomer, ROLE["core"], 0, b"\x00" * 32), admin)

    assert chain.call(deployed.membership.functions.memberCount()) == before + 1


def test_batch_sends_every_call_and_returns_receipts_in_order(deployed: Deployed) -> None:
    bank, token = deployed.accounts["bank"], deployed.token
    holders = [deployed.accounts[r].address for r in ("core", "tier1", "tier2")]

    receipts = deployed.chain.transact_batch(
        [(token.functions.mint(h, 1_000 + i), bank) for i, h in enumerate(holders)]
    )

    assert [r["status"] for r in receipts] == [1, 1, 1]
    assert [deployed.chain.call(token.functions.balanceOf(h)) for h in holders] == [1_000, 1_001, 1_002]


def test_advance_time_moves_the_block_clock(deployed: Deployed) -> None:
    before = deployed.chain.timestamp()

    after = deployed.chain.advance_time(7 * 86_400)

    assert after >= before + 7 * 86_400
    assert deployed.chain.timestamp() == after


def test_snapshot_and_revert_restore_state(deployed: Deployed) -> None:
    chain, token, bank = deployed.chain, deployed.token, deployed.accounts["bank"]
    snapshot = chain.snapshot()
    chain.transact(token.functions.mint(bank.address, 5), bank)
    assert chain.call(token.functions.totalSupply()) == 5

    chain.revert(snapshot)

    assert chain.call(token.functions.totalSupply()) == 0
    chain.transact(token.functions.mint(bank.address, 7), bank)  # nonces re-read after the revert
    assert chain.call(token.functions.totalSupply()) == 7


def test_unreachable_url_raises_chain_unavailable() -> None:
    url = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(ChainUnavailable) as caught:
        Chain.connect(url, timeout=2)

    assert caught.value.endpoint == url
    # A refused connection is tried again a few times (a node restarting), then reported as the socket said it.
    assert "Connection refused (3 tries" in caught.value.reason


@pytest.fixture
def front(anvil: Devnet) -> Iterator[NodeFront]:
    node = NodeFront(("127.0.0.1", anvil.port))
    yield node
    node.close()


def test_a_node_that_goes_silent_is_chain_unavailable_after_one_deadline_not_five_retries(
    front: NodeFront, build: BuildResult
) -> None:
    chain = Chain.http(front.url, backend="devnet", errors=ErrorDecoder(build.artifacts.values()), timeout=0.5)
    assert chain.block_number >= 0

    front.black_hole()
    with pytest.raises(ChainUnavailable) as caught:
        _ = chain.block_number
    assert caught.value.endpoint == front.url
    assert "no answer in time (1 try in" in caught.value.reason  # the deadline covered the only try

    assert chain.accounts is not None
    admin = chain.accounts["admin"]
    with pytest.raises(ChainUnavailable):  # a transaction's reads and its send go through the same provider
        chain.send_value(admin, admin.address, 1)

    front.forward()
    assert chain.block_number >= 0  # pooled connections to the silent node are not reused


def test_a_dead_node_fails_every_kind_of_request_as_chain_unavailable(front: NodeFront, build: BuildResult) -> None:
    chain = Chain.http(front.url, backend="devnet", errors=ErrorDecoder(build.artifacts.values()), timeout=0.5)
    assert chain.accounts is not None
    front.dead()

    with pytest.raises(ChainUnavailable, match="Connection refused"):
        chain.w3.eth.get_balance(chain.accounts["admin"].address)
    with pytest.raises(ChainUnavailable):
        chain.w3.provider.make_batch_request([("eth_blockNumber", []), ("eth_chainId", [])])  # type: ignore[attr-defined]
    with pytest.raises(ChainUnavailable):
        chain.mine()  # devnet controls too


class _Gateway(http.server.BaseHTTPRequestHandler):
    """A proxy in front of a node that is gone: every request answers 502."""

    calls = 0

    def do_POST(self) -> None:
        type(self).calls += 1
        self.send_response(502, "Bad Gateway")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


def test_a_gateway_error_is_chain_unavailable_after_a_retry() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(ChainUnavailable) as caught:
            Chain.http(f"http://127.0.0.1:{server.server_port}", timeout=2)
    finally:
        server.shutdown()
        server.server_close()
    assert "HTTP 502 Bad Gateway (3 tries" in caught.value.reason
    assert _Gateway.calls == 3


def test_an_rpc_deadline_must_be_positive() -> None:
    with pytest.raises(LedgerError, match="deadline must be positive"):
        DeadlineHTTPProvider("http://127.0.0.1:1", deadline=0)


def test_unknown_chain_setting_is_rejected() -> None:
    with pytest.raises(LedgerError, match="unknown chain setting"):
        Chain.connect("ropsten")


def test_decoder_reads_error_string_panic_and_unknown_data() -> None:
    decoder = ErrorDecoder()
    error_string = function_signature_to_4byte_selector("Error(string)") + encode(["string"], ["no"])
    panic = function_signature_to_4byte_selector("Panic(uint256)") + encode(["uint256"], [0x11])

    assert decoder.decode(error_string).reason == "no"
    assert decoder.decode(panic).error_args == {"code": "0x11"}
    unknown = decoder.decode("0xdeadbeef")
    assert unknown.error is None and unknown.data == "0xdeadbeef"


def test_a_transaction_an_automining_anvil_parked_in_its_queue_is_sent_again_and_mined(deployed: Deployed) -> None:
    """anvil can queue the sender's next nonce and never promote it (seen under load); a receipt wait that
    stalls finds that in the pool and sends the node's own copy again (ledger.eth.anvil_pool)."""
    if deployed.backend != "anvil":
        pytest.skip("the queue that stalls is anvil's")
    chain, admin = deployed.chain, deployed.accounts["admin"]
    payer = Account.from_key(keccak(text="test_chain:parked"))
    chain.send_value(admin, payer.address, 10**18)
    start = chain.w3.eth.get_transaction_count(payer.address)
    # The stalled state, made on purpose: a nonce one past the account's is queued, then the account's
    # nonce moves to it with no pool event, as in the race.
    chain.seed_nonce(payer.address, start + 1)
    receipts: list[Any] = []

    def pay() -> None:
        try:
            receipts.append(chain.send_value(payer, admin.address, 1))
        except Exception as exc:  # the assertion below shows it
            receipts.append(exc)

    sending = threading.Thread(target=pay)
    sending.start()
    for _ in range(500):
        if chain.w3.provider.make_request("txpool_status", [])["result"]["queued"] == "0x1":  # type: ignore[arg-type]
            break
        time.sleep(0.01)
    chain.w3.provider.make_request("anvil_setNonce", [payer.address, hex(start + 1)])  # type: ignore[arg-type]
    sending.join(timeout=60)

    assert len(receipts) == 1 and not isinstance(receipts[0], Exception), receipts
    assert receipts[0]["status"] == 1
    assert chain.w3.eth.get_transaction_count(payer.address) == start + 2


class _LateReceipts:
    """A node whose receipt shows up after ``misses`` polls (what ``Chain._poll_receipt`` asks of ``w3.eth``)."""

    def __init__(self, misses: int) -> None:
        self.misses = misses
        self.polls = 0

    def get_transaction_receipt(self, tx_hash: Any) -> dict[str, Any]:
        self.polls += 1
        if self.polls <= self.misses:
            raise TransactionNotFound(f"no receipt for {tx_hash!r} yet")
        return {"status": 1, "transactionHash": tx_hash}


def _polling(misses: int, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list[float]]:
    naps: list[float] = []
    monkeypatch.setattr(chain_module.time, "sleep", naps.append)
    node = _LateReceipts(misses)
    chain = object.__new__(Chain)
    chain.w3 = SimpleNamespace(eth=node)  # type: ignore[assignment]
    return lambda timeout: chain._poll_receipt(HexBytes(b"\x01" * 32), timeout), naps


def test_a_receipt_wait_polls_after_a_millisecond_and_backs_off_to_fifty(monkeypatch: pytest.MonkeyPatch) -> None:
    poll, naps = _polling(8, monkeypatch)
    assert poll(120.0)["status"] == 1
    assert naps == [0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.05, 0.05]


def test_a_receipt_that_never_comes_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    poll, _naps = _polling(10**9, monkeypatch)
    with pytest.raises(TimeExhausted, match=r"not in the chain after 0\.01 seconds"):
        poll(0.01)
