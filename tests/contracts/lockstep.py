"""What the lock-step property suites share: fuzz settings, event names, exact time.

A suite drives a contract and its pure-Python model (``ledger.model``) side by side with a
hypothesis state machine; these helpers keep each suite to its own rules.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol

import pytest
from eth_utils import keccak
from hypothesis import HealthCheck, settings
from web3.types import RPCEndpoint, TxReceipt

from ledger.errors import ContractReverted
from ledger.eth.abi import abi_type
from ledger.eth.chain import Chain
from ledger.model import Effect, ModelRejected

HOUR = 3_600

# -- settings ---------------------------------------------------------------------------

FUZZ_LEVELS = {"": "ci", "ci": "ci", "long": "long"}


def register_fuzz_profiles(name: str, *, examples: int, steps: int) -> None:
    """Profiles ``scf-<name>-{ci,long}[-embedded]``, chosen by ``fuzz_settings``.

    SCF_FUZZ unset or "ci" for every test run, "long" (ten times the examples) for `make fuzz`.
    anvil carries the volume; eth-tester mines a few dozen transactions a second, so it only
    gets a short smoke run of the same machine (backend parity, not coverage).
    """
    ci = f"scf-{name}-ci"
    settings.register_profile(
        ci,
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.register_profile(f"scf-{name}-long", settings.get_profile(ci), max_examples=10 * examples)
    settings.register_profile(
        f"scf-{name}-ci-embedded", settings.get_profile(ci), max_examples=2, stateful_step_count=6
    )
    settings.register_profile(
        f"scf-{name}-long-embedded", settings.get_profile(ci), max_examples=10, stateful_step_count=10
    )


def fuzz_settings(name: str, backend: str) -> settings:
    choice = os.environ.get("SCF_FUZZ", "")
    if choice not in FUZZ_LEVELS:
        pytest.fail(f"SCF_FUZZ={choice!r}: use 'ci' (the default) or 'long'")
    suffix = "" if backend == "anvil" else "-embedded"
    return settings.get_profile(f"scf-{name}-{FUZZ_LEVELS[choice]}{suffix}")


def summary(stats: Counter[str], elapsed: float) -> str:
    """Examples, steps and every rule's outcome counts (``rule:outcome`` keys of ``stats``)."""
    # The invariant runs once before the first step of every example, then after each step.
    steps = stats["checks"] - stats["examples"]
    lines = [f"{stats['examples']} examples, {steps} steps in {elapsed:.1f}s"]
    outcomes = sorted((k, v) for k, v in stats.items() if ":" in k)
    lines += [f"  {key}: {count}" for key, count in outcomes]
    return "\n".join(lines)


def agree(
    rule: str, at: int, predict: Callable[[], Effect], send: Callable[[], TxReceipt], stats: Counter[str]
) -> tuple[Effect, TxReceipt] | None:
    """One operation on the model and on the chain: both reject it with the same custom error
    and arguments (None), or both accept it (the model's effect and the receipt)."""
    try:
        effect = predict()
    except ModelRejected as rejected:
        try:
            send()
        except ContractReverted as reverted:
            got = (reverted.error, reverted.error_args)
            assert got == (rejected.error, rejected.error_args), (
                f"{rule} at t={at}: the model predicted {rejected}, the contract reverted with {reverted}"
            )
            stats[f"{rule}:{rejected.error}"] += 1
            return None
        raise AssertionError(f"{rule} at t={at}: the model predicted {rejected}, the contract accepted") from None
    try:
        receipt = send()
    except ContractReverted as reverted:
        raise AssertionError(
            f"{rule} at t={at}: the model accepted ({', '.join(effect.events)}), the contract reverted: {reverted}"
        ) from reverted
    return effect, receipt


def succeeds(call: Callable[[], TxReceipt]) -> bool:
    try:
        call()
    except ContractReverted:
        return False
    return True


# -- raw views --------------------------------------------------------------------------


def event_topics(*abis: list[dict[str, Any]]) -> dict[bytes, str]:
    """topic0 → event name for every event of the given ABIs."""
    topics: dict[bytes, str] = {}
    for abi in abis:
        for item in abi:
            if item.get("type") == "event":
                signature = f"{item['name']}({','.join(abi_type(p) for p in item['inputs'])})"
                topics[keccak(text=signature)] = item["name"]
    return topics


# -- time -------------------------------------------------------------------------------


class Clock(Protocol):
    """When the next transaction executes (``now``) and when views read (``view_time``)."""

    now: int

    @property
    def view_time(self) -> int: ...

    def before_tx(self) -> None: ...

    def after_tx(self) -> None: ...

    def jump(self, seconds: int) -> None: ...

    def close(self) -> None: ...


class AnvilClock:
    """Every transaction mines at the latest block's timestamp.

    The preflight that meets a revert before sending (QuickChain's ``eth_call``, or
    ``eth_estimateGas`` in ``Chain.transact``) runs at the latest block's time, while automine
    would stamp the block with the wall clock; a block timestamp interval of 0
    (``anvil_setBlockTimestampInterval``) stamps every new block with its parent's time, so both
    are the same second, with no request per transaction. ``evm_increaseTime`` drifts with the
    wall clock, so jumps pin their target (``evm_setNextBlockTimestamp``) and mine a block there.
    ``close`` gives the session's anvil its wall clock back (the interval is the node's setting,
    which no snapshot revert undoes).
    """

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self.now = chain.timestamp()
        self._request("anvil_setBlockTimestampInterval", [0])

    @property
    def view_time(self) -> int:
        return self.now

    def _request(self, method: str, params: list[Any]) -> None:
        answer = self.chain.w3.provider.make_request(RPCEndpoint(method), params)
        assert "error" not in answer, answer

    def before_tx(self) -> None:
        pass  # the next block takes the latest block's timestamp: ``now``

    def after_tx(self) -> None:
        pass

    def jump(self, seconds: int) -> None:
        self.now += seconds
        self._request("evm_setNextBlockTimestamp", [self.now])
        self.chain.mine()

    def close(self) -> None:
        self._request("anvil_removeBlockTimestampInterval", [])


def wall_clock_back(chain: Chain) -> None:
    """Whatever an ``AnvilClock`` left behind (one whose example failed before its teardown), the node's blocks
    follow the wall clock again (a no-op elsewhere)."""
    if chain.backend != "embedded":
        answer = chain.w3.provider.make_request(RPCEndpoint("anvil_removeBlockTimestampInterval"), [])
        assert "error" not in answer, answer


class EmbeddedClock:
    """eth-tester estimates and mines the next transaction at ``latest + 1`` once the chain is
    ahead of the wall clock (each mined transaction moves time on by a second), but runs calls
    in the latest block, a second earlier."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        latest = chain.timestamp()
        chain.advance_time(max(0, int(time.time()) - latest) + HOUR)
        self.now = chain.timestamp() + 1

    @property
    def view_time(self) -> int:
        return self.now - 1

    def before_tx(self) -> None:
        pass

    def after_tx(self) -> None:
        self.now += 1

    def jump(self, seconds: int) -> None:
        if seconds:
            self.chain.advance_time(seconds)
            self.now += seconds

    def close(self) -> None:
        pass
