"""A network file's RPC URLs: when the endpoint in use cannot be reached, requests go to the next one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.errors import ChainUnavailable
from ledger.eth.chain import Chain, DeadlineHTTPProvider
from ledger.toolchain.devnet import Devnet
from tests.support.node_faults import NodeFront
from tests.support.ports import free_port


@pytest.fixture
def fronts(anvil: Devnet) -> Iterator[tuple[NodeFront, NodeFront]]:
    """Two endpoints of one chain, as two RPC nodes of a consortium network are."""
    first, second = NodeFront(("127.0.0.1", anvil.port)), NodeFront(("127.0.0.1", anvil.port))
    yield first, second
    first.close()
    second.close()


def test_a_dead_first_endpoint_is_passed_over_and_the_next_one_stays_in_use(
    fronts: tuple[NodeFront, NodeFront],
) -> None:
    first, second = fronts
    first.dead()
    chain = Chain.http(first.url, backend="rpc", timeout=2, fallbacks=[second.url])

    assert chain.endpoint == second.url
    head = chain.block_number
    first.forward()  # back, but the endpoint in use answers: no switching back and forth
    assert chain.block_number >= head
    assert isinstance(chain.w3.provider, DeadlineHTTPProvider) and chain.w3.provider.url == second.url


def test_an_endpoint_that_dies_mid_run_hands_over_to_the_next_and_a_send_goes_through(
    fronts: tuple[NodeFront, NodeFront], anvil: Devnet
) -> None:
    first, second = fronts
    chain = Chain.http(first.url, backend="devnet", timeout=2, fallbacks=[second.url])
    assert chain.accounts is not None
    admin, payee = chain.accounts["admin"], chain.accounts["tier3"]
    before = chain.w3.eth.get_balance(payee.address)

    first.dead()
    receipt = chain.send_value(admin, payee.address, 12345)

    assert receipt["status"] == 1
    assert chain.w3.eth.get_balance(payee.address) == before + 12345
    assert isinstance(chain.w3.provider, DeadlineHTTPProvider) and chain.w3.provider.url == second.url


def test_when_no_endpoint_answers_the_error_names_each_one_with_its_reason() -> None:
    urls = [f"http://127.0.0.1:{free_port()}" for _ in range(2)]

    with pytest.raises(ChainUnavailable) as caught:
        Chain.http(urls[0], timeout=2, fallbacks=urls[1:])

    assert caught.value.reason.startswith("no endpoint answered: ")
    for url in urls:
        assert f"{url}: Connection refused" in caught.value.reason


def test_a_request_that_may_not_be_sent_twice_is_not_sent_on_after_a_silent_endpoint(
    fronts: tuple[NodeFront, NodeFront],
) -> None:
    """A silent node may have taken it: sending it to another would send it twice."""
    first, second = fronts
    provider = DeadlineHTTPProvider(first.url, deadline=0.5, fallbacks=[second.url])
    first.black_hole()
    second.dead()  # were it asked, the error would name it

    with pytest.raises(ChainUnavailable) as caught:
        provider.make_request("eth_sendTransaction", [{}])  # type: ignore[arg-type]

    assert caught.value.endpoint == first.url
    assert "no answer in time" in caught.value.reason and second.url not in caught.value.reason
