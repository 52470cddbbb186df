"""A pure-Python model of SettlementToken: OpenZeppelin 5's ERC-20 and EIP-2612 permit, minted by banks.

The escrow and receivables models say which transfers a call causes (``Effect.transfers``);
this model says whether the token accepts each of them and keeps the balances, allowances and
permit nonces that decide it. Like the other models it checks in the contract's order and
raises ``ModelRejected`` with the token's custom error (OpenZeppelin's ``ERC20*`` and
``ERC2612*`` errors included) or applies the change and returns the events it emits.

Callers pass what a permit signature recovers to (``None`` where ``ECDSA.recover`` reverts),
computed over the owner's current nonce (``nonce(owner)``).
"""

from __future__ import annotations

from typing import Final

from ledger.model.common import ROLE_BANK, ZERO_ADDRESS, Effect, ModelRejected, Roster, Transfer, address, uint

SETTLEMENT_TOKEN: Final = "SettlementToken"
MAX_UINT256: Final = (1 << 256) - 1


def _reject(error: str, **error_args: object) -> ModelRejected:
    return ModelRejected(error, SETTLEMENT_TOKEN, **error_args)


class TokenModel:
    """SettlementToken at ``token``, asking ``roster`` who is a bank."""

    def __init__(self, *, token: str, roster: Roster) -> None:
        self.token = address(token)
        self.roster = roster
        self.total_supply = 0
        self._balances: dict[str, int] = {}
        self._allowances: dict[tuple[str, str], int] = {}
        self._nonces: dict[str, int] = {}

    # -- ISettlementToken ------------------------------------------------------------

    def mint(self, to: str, amount: int, *, caller: str) -> Effect:
        caller, to = address(caller), address(to)
        uint(amount, 256, "amount")
        if not self.roster.has_role(caller, ROLE_BANK):
            raise _reject("SettlementTokenUnauthorizedMinter", caller=caller)
        if to == ZERO_ADDRESS or amount == 0:
            raise _reject("SettlementTokenInvalidMint", to=to, amount=amount)
        moved = self._update(ZERO_ADDRESS, to, amount)
        return Effect(events=("Transfer", "DepositsMinted"), transfers=(moved,))

    def redeem(self, amount: int, *, caller: str) -> Effect:
        caller = address(caller)
        uint(amount, 256, "amount")
        moved = self._update(caller, ZERO_ADDRESS, amount)
        return Effect(events=("Transfer", "DepositsRedeemed"), transfers=(moved,))

    # -- IERC20 ----------------------------------------------------------------------

    def transfer(self, to: str, value: int, *, caller: str) -> Effect:
        caller, to = address(caller), address(to)
        uint(value, 256, "value")
        return Effect(events=("Transfer",), transfers=(self._transfer(caller, to, value),))

    def approve(self, spender: str, value: int, *, caller: str) -> Effect:
        uint(value, 256, "value")
        self._approve(address(caller), address(spender), value)
        return Effect(events=("Approval",))

    def transfer_from(self, source: str, to: str, value: int, *, caller: str) -> Effect:
        caller, source, to = address(caller), address(source), address(to)
        uint(value, 256, "value")
        self._spend_allowance(source, caller, value)
        return Effect(events=("Transfer",), transfers=(self._transfer(source, to, value),))

    # -- IERC20Permit ----------------------------------------------------------------

    def permit(self, owner: str, spender: str, value: int, deadline: int, *, signer: str | None, now: int) -> Effect:
        """``permit(owner, spender, value, deadline, v, r, s)``; ``signer`` is what (v, r, s)
        recovers to over the owner's current nonce (None: ``ECDSA.recover`` reverts)."""
        owner, spender = address(owner), address(spender)
        uint(value, 256, "value")
        uint(deadline, 256, "deadline")
        if now > deadline:
            raise _reject("ERC2612ExpiredSignature", deadline=deadline)
        if signer is None:
            raise _reject("ECDSAInvalidSignature")
        if address(signer) != owner:
            raise _reject("ERC2612InvalidSigner", signer=address(signer), owner=owner)
        self._approve(owner, spender, value)
        self._nonces[owner] = self._nonces.get(owner, 0) + 1
        return Effect(events=("Approval",))

    # -- views -----------------------------------------------------------------------

    def balance_of(self, holder: str) -> int:
        return self._balances.get(address(holder), 0)

    def allowance(self, owner: str, spender: str) -> int:
        return self._allowances.get((address(owner), address(spender)), 0)

    def nonce(self, owner: str) -> int:
        return self._nonces.get(address(owner), 0)

    def balances(self) -> dict[str, int]:
        """Every holder the token ever credited or debited, zero balances included."""
        return dict(self._balances)

    def allowances(self) -> dict[tuple[str, str], int]:
        return dict(self._allowances)

    def nonces(self) -> dict[str, int]:
        return dict(self._nonces)

    def invariant_violations(self) -> list[str]:
        held = sum(self._balances.values())
        return [] if held == self.total_supply else [f"balances sum to {held}, total supply is {self.total_supply}"]

    # -- internals (OpenZeppelin 5 ERC20) --------------------------------------------

    def _transfer(self, source: str, to: str, value: int) -> Transfer:
        if source == ZERO_ADDRESS:
            raise _reject("ERC20InvalidSender", sender=ZERO_ADDRESS)
        if to == ZERO_ADDRESS:
            raise _reject("ERC20InvalidReceiver", receiver=ZERO_ADDRESS)
        return self._update(source, to, value)

    def _update(self, source: str, to: str, value: int) -> Transfer:
        if source == ZERO_ADDRESS:
            if self.total_supply + value > MAX_UINT256:
                raise _reject("Panic", code=hex(0x11))
            self.total_supply += value
        else:
            balance = self._balances.get(source, 0)
            if balance < value:
                raise _reject("ERC20InsufficientBalance", sender=source, balance=balance, needed=value)
            self._balances[source] = balance - value
        if to == ZERO_ADDRESS:
            self.total_supply -= value
        else:
            self._balances[to] = self._balances.get(to, 0) + value
        return Transfer(self.token, source, to, value)

    def _approve(self, owner: str, spender: str, value: int) -> None:
        if owner == ZERO_ADDRESS:
            raise _reject("ERC20InvalidApprover", approver=ZERO_ADDRESS)
        if spender == ZERO_ADDRESS:
            raise _reject("ERC20InvalidSpender", spender=ZERO_ADDRESS)
        self._allowances[(owner, spender)] = value

    def _spend_allowance(self, owner: str, spender: str, value: int) -> None:
        current = self._allowances.get((owner, spender), 0)
        if current < MAX_UINT256:
            if current < value:
                raise _reject("ERC20InsufficientAllowance", spender=spender, allowance=current, needed=value)
            self._approve(owner, spender, current - value)
