"""What every transaction the product signs pays for gas, by the network's policy.

Every transaction is EIP-1559 (type 2): the relayer, the batch sender's lean signer and the API's
prepared transactions all speak it, and a permissioned network on a London-or-later fork (Besu's
default genesis) takes it. The policy decides the two fee fields from the head's base fee:

* ``eip1559`` (the default, and what a devnet uses): ``maxFeePerGas = 2 x base fee + priority``, the
  headroom for six full blocks of base-fee rises; with a cap (``maxFeePerGasGwei``) never above it.
  A cap below the current base fee raises ``FeeCapBelowBaseFee``: no block would include the
  transaction, and a send that waits for ever is worse than an error that says so.
* ``zero``: a free-gas network (Besu ``--min-gas-price=0`` with ``zeroBaseFee``): both fields 0.
  A node whose head still charges a base fee is refused the same way, because a zero-fee transaction
  would sit in its pool.
* ``legacy``: a fixed price (``gasPriceGwei``), sent as type 2 with both fields equal to it, which a
  London node charges exactly as a legacy ``gasPrice`` (the tip is the price less the base fee). A
  pre-London network, which has no type 2, is not supported.

``ledger.toolchain.network`` reads the policy from a network file; this module is what the signers
consult, so it imports nothing of the toolchain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ledger.errors import LedgerError

GWEI = 10**9
#: The tip a devnet transaction offers: 1 gwei, as anvil and eth-tester expect by default.
PRIORITY_FEE = GWEI

FeeKind = Literal["zero", "eip1559", "legacy"]


class FeeCapBelowBaseFee(LedgerError):
    """The network's fee policy allows less per gas than the head's base fee: no block would take the transaction."""

    def __init__(self, kind: str, cap: int, base_fee: int) -> None:
        self.kind = kind
        self.cap = cap
        self.base_fee = base_fee
        super().__init__(
            f"the network's gas policy ({kind}) pays at most {cap} wei per gas, but the head's base fee is "
            f"{base_fee} wei: no block would include the transaction. Raise the cap in the network file "
            "(gasPrice), or check that this is the network the file describes"
        )


@dataclass(frozen=True)
class Fees:
    """The two EIP-1559 fee fields of one transaction, in wei per gas."""

    max_fee: int
    priority: int


@dataclass(frozen=True)
class FeePolicy:
    """How to price gas: ``kind`` and, for ``eip1559`` a cap (``cap`` wei, None: none), for ``legacy`` the price."""

    kind: FeeKind = "eip1559"
    cap: int | None = None
    price: int | None = None

    @classmethod
    def of_gwei(cls, kind: FeeKind, *, cap_gwei: int | None = None, price_gwei: int | None = None) -> FeePolicy:
        if kind == "legacy" and price_gwei is None:
            raise LedgerError("a legacy gas policy needs its price (gasPriceGwei)")
        return cls(
            kind,
            cap=None if cap_gwei is None else cap_gwei * GWEI,
            price=None if price_gwei is None else price_gwei * GWEI,
        )

    def fees(self, base_fee: int) -> Fees:
        """The fee fields for a transaction into a block whose base fee is ``base_fee`` (``FeeCapBelowBaseFee``)."""
        if self.kind == "zero":
            if base_fee > 0:
                raise FeeCapBelowBaseFee(self.kind, 0, base_fee)
            return Fees(0, 0)
        if self.kind == "legacy":
            price = self.price or 0
            if price < base_fee:
                raise FeeCapBelowBaseFee(self.kind, price, base_fee)
            return Fees(price, price)
        max_fee = 2 * base_fee + PRIORITY_FEE
        if self.cap is not None:
            if self.cap < base_fee:
                raise FeeCapBelowBaseFee(self.kind, self.cap, base_fee)
            max_fee = min(max_fee, self.cap)
        return Fees(max_fee, min(PRIORITY_FEE, max_fee))


DEFAULT = FeePolicy()
