"""The replayer: the contracts' rules driven by the chain's transactions, each mined call into the models.

``Replayer.apply`` takes one decoded call with its sender (``tx.from``) and its block's
timestamp, checks every EIP-712 signature in the calldata under the contract's own domain
(``ledger.eth.eip712``'s ``TypedHasher``, one per document type, over the message as the
calldata gives it: the digest the clients' documents hash to) the way the contract does: where
the contract names the signer and that signer is a contract wallet, by asking the wallet (ERC-1271,
the callback ``ledger.audit.wallets`` gives), else by ECDSA recovery (oracle quorums and permits
always), then runs the models
(``ledger.audit.state.LedgerModels``) and returns the ``Outcome``: each contract's events in
order, the settlement-token transfers in order and the event arguments the replay can vouch
for, read off the calldata and the models once the call is applied: the recovered signers, the
ids the models assign, the parties, the amounts paid out, refunded, financed, repaid and
claimed, the new statuses and deadlines (the arguments an indexer turns into rows). A
``ModelRejected`` it raises is the contract's custom error the models predict: for a
transaction the chain mined successfully, a mismatch. A call no model covers raises
``Unmodelled``, a gap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from ledger.audit.state import (
    CREDIT,
    ESCROW,
    MEMBERSHIP,
    RECEIVABLES,
    TOKEN,
    Expectation,
    LedgerModels,
    Outcome,
)
from ledger.clients.credit import LIMIT_FIELDS
from ledger.clients.token import PERMIT_FIELDS
from ledger.domain.escrow import (
    ATTESTATION_FIELDS,
    ERROR_DECLARATION_FIELDS,
    ORDER_FIELDS,
    PREPAYMENT_OFFER_FIELDS,
    SETTLEMENT_FIELDS,
    Milestone,
    OrderStatus,
    OrderTerms,
    PrepaymentOffer,
    Windows,
)
from ledger.domain.receivables import ISSUE_FIELDS, OFFER_FIELDS, Child, FinanceOffer, IssueTerms
from ledger.domain.typed_data import Domain
from ledger.eth.eip712 import TypedHasher, domain_separator, recover_signer
from ledger.model.common import ROLE_ADMIN, Effect, ModelRejected, Transfer, address

#: What each constructor emits (the models start in the state the constructors leave).
CONSTRUCTOR_EVENTS: Final[dict[str, tuple[str, ...]]] = {
    ESCROW: ("TokenAllowed", "ThresholdSet", "ThresholdSet", "ThresholdSet", "WindowsSet"),
    RECEIVABLES: ("GracePeriodSet",),
    TOKEN: (),
    CREDIT: (),
}


class Unmodelled(Exception):
    """A call no model covers: the replay reports it as a gap."""


_Handler = Callable[[tuple[Any, ...], str, int, Outcome], None]


def _hex(value: bytes) -> str:
    """bytes as the logs' JSON-ready form (``ledger.eth.history.LogDecoder``)."""
    return "0x" + bytes(value).hex()


def _names(fields: Sequence[Mapping[str, str]]) -> tuple[str, ...]:
    return tuple(f["name"] for f in fields)


ORDER_NAMES, ATTESTATION_NAMES = _names(ORDER_FIELDS), _names(ATTESTATION_FIELDS)
DECLARATION_NAMES, SETTLEMENT_NAMES = _names(ERROR_DECLARATION_FIELDS), _names(SETTLEMENT_FIELDS)
ISSUE_NAMES, OFFER_NAMES, LIMIT_NAMES = _names(ISSUE_FIELDS), _names(OFFER_FIELDS), _names(LIMIT_FIELDS)
PERMIT_NAMES, PREPAYMENT_OFFER_NAMES = _names(PERMIT_FIELDS), _names(PREPAYMENT_OFFER_FIELDS)


#: The calls whose signed messages are their first argument (a tuple): (contract, function) →
#: (primary type, fields, names, where the signatures are: "one" second argument, "two" (second and
#: third: buyer's and supplier's), "many" (a list, second)). ``Replayer.signed`` reads them; the handlers
#: (``_create``, ``_attest``, ``_contest``, ``_publish``, ``_request_prepayment``, ``_issue``, ``_finance``)
#: hash the same messages.
_SIGNED: Final[dict[tuple[str, str], tuple[str, list[dict[str, str]], tuple[str, ...], str]]] = {
    (ESCROW, "createOrder"): ("Order", ORDER_FIELDS, ORDER_NAMES, "two"),
    (ESCROW, "createOpenAccountOrder"): ("OpenAccountOrder", ORDER_FIELDS, ORDER_NAMES, "two"),
    (ESCROW, "attest"): ("Attestation", ATTESTATION_FIELDS, ATTESTATION_NAMES, "many"),
    (ESCROW, "contestMilestone"): ("ErrorDeclaration", ERROR_DECLARATION_FIELDS, DECLARATION_NAMES, "many"),
    (ESCROW, "requestPrepayment"): ("PrepaymentOffer", PREPAYMENT_OFFER_FIELDS, PREPAYMENT_OFFER_NAMES, "one"),
    (CREDIT, "publish"): ("CreditLimit", LIMIT_FIELDS, LIMIT_NAMES, "one"),
    (RECEIVABLES, "issue"): ("ReceivableIssue", ISSUE_FIELDS, ISSUE_NAMES, "one"),
    (RECEIVABLES, "finance"): ("FinanceOffer", OFFER_FIELDS, OFFER_NAMES, "one"),
}


class Replayer:
    """Applies decoded calls of the deployed contracts to ``models``."""

    def __init__(
        self,
        models: LedgerModels,
        chain_id: int,
        token_name: str,
        signature_check: Callable[[str, str, bytes, bytes], bool | None] | None = None,
    ) -> None:
        """``signature_check(verifier, signer, digest, signature)`` decides a *named* signer's signature
        as the contract at ``verifier`` does: None when ``signer`` is a key (ECDSA recovery decides),
        else the contract wallet's ERC-1271 answer (``ledger.audit.wallets``); without it, every
        signature is recovered."""
        self.models = models
        self.signature_check = signature_check
        at = models.addresses
        self.domains = {
            ESCROW: Domain(ESCROW, "1", chain_id, at[ESCROW]),
            RECEIVABLES: Domain(RECEIVABLES, "1", chain_id, at[RECEIVABLES]),
            CREDIT: Domain(CREDIT, "1", chain_id, at[CREDIT]),
            TOKEN: Domain(token_name, "1", chain_id, at[TOKEN]),
        }
        self._hashers: dict[tuple[str, str], tuple[bytes, TypedHasher]] = {}
        #: (digest, signature) → its ECDSA signer, recovered ahead (``ledger.audit.reader``): a signature
        #: found here is not recovered again; any other is (the answer is the same either way).
        self.recovered: Mapping[tuple[bytes, bytes], str | None] = {}
        self.escrow_address = at[ESCROW]
        self.receivables_address = at[RECEIVABLES]
        self.currency = at[TOKEN]
        m, t, c, e, r = MEMBERSHIP, TOKEN, CREDIT, ESCROW, RECEIVABLES
        self.handlers: dict[tuple[str, str], _Handler] = {
            (m, "admit"): self._admit,
            (m, "setRoles"): self._set_roles,
            (m, "updateKyc"): self._update_kyc,
            (m, "suspend"): self._suspend,
            (m, "reinstate"): self._reinstate,
            (t, "mint"): self._mint,
            (t, "redeem"): self._redeem,
            (t, "transfer"): self._transfer,
            (t, "approve"): self._approve,
            (t, "transferFrom"): self._transfer_from,
            (t, "permit"): self._permit,
            (c, "publish"): self._publish,
            (c, "revoke"): self._revoke,
            (e, "createOrder"): self._create_order,
            (e, "createOpenAccountOrder"): self._create_open_account_order,
            (e, "fund"): self._fund,
            (e, "fundWithPermit"): self._fund_with_permit,
            (e, "cancelUnfunded"): self._order_call("cancel_unfunded"),
            (e, "attest"): self._attest,
            (e, "confirmReceipt"): self._order_call("confirm_receipt"),
            (e, "release"): self._order_call("release"),
            (e, "refundUnshipped"): self._order_call("refund_unshipped"),
            (e, "openDispute"): self._open_dispute,
            (e, "contestMilestone"): self._contest,
            (e, "answerDispute"): self._answer_dispute,
            (e, "arbitrate"): self._arbitrate,
            (e, "settleDispute"): self._settle_dispute,
            (e, "closeExpiredDispute"): self._order_call("close_expired_dispute"),
            (e, "requestPrepayment"): self._request_prepayment,
            (e, "fundPool"): self._fund_pool,
            (e, "withdrawPool"): self._withdraw_pool,
            (e, "repayShortfall"): self._repay_shortfall,
            (e, "setThreshold"): self._set_threshold,
            (e, "setWindows"): self._set_windows,
            (e, "setTokenAllowed"): self._set_token_allowed,
            (r, "issue"): self._issue,
            (r, "split"): self._split,
            (r, "finance"): self._finance,
            (r, "repay"): self._repay,
            (r, "claim"): self._claim,
            (r, "markDefaulted"): self._mark_defaulted,
            (r, "setGracePeriod"): self._set_grace_period,
            (r, "transferFrom"): self._transfer_piece,
            (r, "safeTransferFrom"): self._transfer_piece,
        }

    # -- entry points -------------------------------------------------------------------

    def apply(self, contract: str, function: str, args: tuple[Any, ...], caller: str, now: int) -> Outcome:
        handler = self.handlers.get((contract, function))
        if handler is None:
            raise Unmodelled(f"{contract}.{function} is not modelled")
        out = Outcome()
        handler(args, caller, now, out)
        return out

    def construct(self, contract: str, args: tuple[Any, ...] | None, caller: str, now: int) -> Outcome:
        """The creation of ``contract`` (its constructor ``args`` when static)."""
        out = Outcome()
        if contract == MEMBERSHIP:
            if args is None:
                raise Unmodelled("Membership's constructor arguments could not be read")
            admin, kyc_hash = args
            self._effect(out, MEMBERSHIP, self.models.membership.constructor(admin, kyc_hash, now=now))
            admitted = {"party": admin, "roles": ROLE_ADMIN, "oracleKind": 0, "kycHash": _hex(kyc_hash), "admin": admin}
            out.expect.append(Expectation(MEMBERSHIP, "MemberAdmitted", 0, admitted))
        else:
            out.events[contract].extend(CONSTRUCTOR_EVENTS[contract])
        return out

    # -- plumbing -----------------------------------------------------------------------

    def _recover(
        self,
        contract: str,
        primary: str,
        fields: list[dict[str, str]],
        message: dict[str, Any],
        sig: bytes,
        expected: str | None = None,
    ) -> str | None:
        """Who signed ``message``: what ``sig`` recovers to, or, where the contract names the
        ``expected`` signer and it is a contract wallet, ``expected`` if its ERC-1271 answer is yes
        and the zero address if no (the contracts then revert ``...InvalidSigner(expected, 0)``)."""
        digest = self._digest(contract, primary, fields, message)
        if expected is not None and self.signature_check is not None:
            verifier = self.domains[contract].verifying_contract
            accepted = self.signature_check(verifier, address(expected), digest, bytes(sig))
            if accepted is not None:
                return address(expected) if accepted else "0x" + "00" * 20
        key = (digest, bytes(sig))
        recovered = self.recovered
        return recovered[key] if key in recovered else recover_signer(*key)

    def _digest(self, contract: str, primary: str, fields: list[dict[str, str]], message: dict[str, Any]) -> bytes:
        key = (contract, primary)
        hasher = self._hashers.get(key)
        if hasher is None:
            hasher = self._hashers[key] = (domain_separator(self.domains[contract]), TypedHasher(primary, fields))
        separator, typed = hasher
        return typed.digest(separator, message)

    def signed(self, contract: str, function: str, args: tuple[Any, ...]) -> list[tuple[bytes, bytes]]:
        """(digest, signature) of each signature a call of ``contract.function`` carries whose message
        its arguments alone give (not a permit's: its nonce is the models' state), as ``apply`` will
        hash them: what a reader recovers ahead of the replay (``recovered``)."""
        plan = _SIGNED.get((contract, function))
        if plan is None:
            return []
        primary, fields, names, signatures = plan
        raw = args[0]
        message = dict(zip(names, raw, strict=True))
        digest = self._digest(contract, primary, fields, message)
        sigs = args[1] if signatures == "many" else args[1:3] if signatures == "two" else (args[1],)
        return [(digest, bytes(sig)) for sig in sigs]

    @staticmethod
    def _effect(out: Outcome, contract: str, effect: Effect) -> Effect:
        out.events[contract].extend(effect.events)
        return effect

    def _token_effect(self, out: Outcome, effect: Effect) -> None:
        out.events[TOKEN].extend(effect.events)
        out.transfers.extend((t.source, t.destination, t.amount) for t in effect.transfers)

    def _move(self, out: Outcome, acting: str, transfers: Sequence[Transfer]) -> None:
        """The token transfers ``acting`` (the escrow or Receivables) makes: pushes from its own
        balance, pulls with ``transferFrom`` against the payer's allowance."""
        token = self.models.token
        for t in transfers:
            if t.token != self.currency:
                self.models.other_tokens.add(t.token)
                out.other_token_transfers.append(t)
                continue
            if t.source == acting:
                self._token_effect(out, token.transfer(t.destination, t.amount, caller=acting))
            else:
                self._token_effect(out, token.transfer_from(t.source, t.destination, t.amount, caller=acting))

    def _escrow(self, out: Outcome, effect: Effect, caller: str | None = None, order_id: int | None = None) -> Effect:
        self._effect(out, ESCROW, effect)
        self._move(out, self.escrow_address, effect.transfers)
        if order_id is not None and caller is not None:
            self._order_events(out, effect, order_id, caller)
        return effect

    def _order_events(self, out: Outcome, effect: Effect, order_id: int, caller: str) -> None:
        """What the escrow's events of ``order_id`` must say, read off the models once the call is applied."""
        escrow = self.models.escrow
        o = escrow.order(order_id)
        t = o.terms
        to_supplier = sum(
            x.amount for x in effect.transfers if x.source == self.escrow_address and x.destination == t.supplier
        )
        caller = address(caller)
        for name in effect.events:
            args: dict[str, Any]
            if name == "OrderCreated":
                args = {"buyer": t.buyer, "supplier": t.supplier, "token": t.token, "amount": t.amount,
                        "shipBy": t.ship_by, "deliverBy": t.deliver_by, "inspectionRequired": t.inspection_required,
                        "termsHash": _hex(t.terms_hash), "poRefHash": _hex(t.po_ref_hash), "nonce": t.nonce,
                        "submitter": caller}  # fmt: skip
            elif name == "OpenAccountOrderCreated":
                args = {"buyer": t.buyer, "supplier": t.supplier}
            elif name == "OrderFunded":
                args = {"buyer": t.buyer, "amount": t.amount}
            elif name == "OrderCancelled":
                args = {"by": caller}
            elif name == "ReceiptConfirmed":
                args = {"buyer": t.buyer}
            elif name == "OrderReleased":
                args = {"supplier": t.supplier, "amount": to_supplier, "by": caller}
            elif name == "OrderRefunded":
                from_pool = o.guarantee_claimed
                args = {"buyer": t.buyer, "fromEscrow": o.refunded_to_buyer - from_pool, "fromPool": from_pool}
            elif name == "DisputeOpened":
                d = escrow.dispute(order_id)
                args = {"buyer": t.buyer, "reasonHash": _hex(d.reason_hash), "answerBy": d.answer_by,
                        "resolveBy": d.resolve_by}  # fmt: skip
            elif name == "DisputeAnswered":
                args = {"supplier": t.supplier, "responseHash": _hex(escrow.dispute(order_id).response_hash)}
            elif name == "DisputeResolved":
                args = {"toBuyer": o.refunded_to_buyer, "toSupplier": to_supplier, "fromPool": o.guarantee_claimed,
                        "by": caller}  # fmt: skip
            elif name == "PrepaymentReleased":
                args = {"supplier": t.supplier, "guarantor": o.guarantor, "amount": o.prepaid, "fee": o.prepayment_fee}
            elif name == "GuaranteeClaimed":
                args = {"guarantor": o.guarantor, "supplier": t.supplier, "amount": o.guarantee_claimed}
            elif name == "MilestoneAttested":
                args = {"status": int(o.status)}
            else:
                continue
            out.expect.append(Expectation(ESCROW, name, 0, {"orderId": order_id, **args}))

    def _receivables(self, out: Outcome, effect: Effect) -> Effect:
        self._effect(out, RECEIVABLES, effect)
        self._move(out, self.receivables_address, effect.transfers)
        return effect

    # -- Membership -----------------------------------------------------------------------

    def _admit(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        party, roles, kind, kyc = args
        self._effect(out, MEMBERSHIP, self.models.membership.admit(party, roles, kind, kyc, caller=caller, now=now))
        admitted = {"party": party, "roles": roles, "oracleKind": kind, "kycHash": _hex(kyc), "admin": address(caller)}
        out.expect.append(Expectation(MEMBERSHIP, "MemberAdmitted", 0, admitted))

    def _set_roles(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        party, roles, kind = args
        previous = self.models.membership.member(party).roles
        self._effect(out, MEMBERSHIP, self.models.membership.set_roles(party, roles, kind, caller=caller, now=now))
        changed = {"party": party, "previousRoles": previous, "roles": roles, "oracleKind": kind,
                   "admin": address(caller)}  # fmt: skip
        out.expect.append(Expectation(MEMBERSHIP, "MemberRolesChanged", 0, changed))

    def _update_kyc(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        party, kyc = args
        previous = self.models.membership.member(party).kyc_hash
        self._effect(out, MEMBERSHIP, self.models.membership.update_kyc(party, kyc, caller=caller, now=now))
        updated = {"party": party, "previousKycHash": _hex(previous), "kycHash": _hex(kyc), "admin": address(caller)}
        out.expect.append(Expectation(MEMBERSHIP, "MemberKycUpdated", 0, updated))

    def _suspend(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        party, reason = args
        self._effect(out, MEMBERSHIP, self.models.membership.suspend(party, reason, caller=caller, now=now))
        suspended = {"party": party, "reasonHash": _hex(reason), "admin": address(caller)}
        out.expect.append(Expectation(MEMBERSHIP, "MemberSuspended", 0, suspended))

    def _reinstate(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        (party,) = args
        self._effect(out, MEMBERSHIP, self.models.membership.reinstate(party, caller=caller, now=now))
        out.expect.append(Expectation(MEMBERSHIP, "MemberReinstated", 0, {"party": party, "admin": address(caller)}))

    # -- SettlementToken ------------------------------------------------------------------

    def _mint(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        to, amount = args
        self._token_effect(out, self.models.token.mint(to, amount, caller=caller))
        out.expect.append(
            Expectation(TOKEN, "DepositsMinted", 0, {"bank": address(caller), "to": to, "amount": amount})
        )

    def _redeem(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        (amount,) = args
        self._token_effect(out, self.models.token.redeem(amount, caller=caller))
        out.expect.append(Expectation(TOKEN, "DepositsRedeemed", 0, {"holder": address(caller), "amount": amount}))

    def _transfer(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        to, value = args
        self._token_effect(out, self.models.token.transfer(to, value, caller=caller))

    def _approve(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        spender, value = args
        self._token_effect(out, self.models.token.approve(spender, value, caller=caller))
        approved = {"owner": address(caller), "spender": spender, "value": value}
        out.expect.append(Expectation(TOKEN, "Approval", 0, approved))

    def _transfer_from(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        source, to, value = args
        self._token_effect(out, self.models.token.transfer_from(source, to, value, caller=caller))

    def _permit_signer(
        self, owner: str, spender: str, value: int, deadline: int, v: int, r: bytes, s: bytes
    ) -> str | None:
        nonce = self.models.token.nonce(owner)
        message = dict(zip(PERMIT_NAMES, (owner, spender, value, nonce, deadline), strict=True))
        return self._recover(TOKEN, "Permit", PERMIT_FIELDS, message, bytes(r) + bytes(s) + bytes([v % 256]))

    def _permit(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        owner, spender, value, deadline, v, r, s = args
        signer = self._permit_signer(owner, spender, value, deadline, v, r, s)
        out.signatures += 1
        effect = self.models.token.permit(owner, spender, value, deadline, signer=signer, now=now)
        self._token_effect(out, effect)
        out.expect.append(Expectation(TOKEN, "Approval", 0, {"owner": owner, "spender": spender, "value": value}))

    # -- CreditRegistry -------------------------------------------------------------------

    def _publish(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        grant, signature = args
        message = dict(zip(LIMIT_NAMES, grant, strict=True))
        signer = self._recover(CREDIT, "CreditLimit", LIMIT_FIELDS, message, signature, message["bank"])
        out.signatures += 1
        effect = self.models.credit.publish(
            bank=message["bank"],
            party=message["party"],
            limit=message["limit"],
            valid_until=message["validUntil"],
            nonce=message["nonce"],
            signer=signer,
            now=now,
        )
        self._effect(out, CREDIT, effect)
        key = (address(message["bank"]), address(message["party"]))
        self.models.limit_details[key] = (message["score"], message["grade"], bytes(message["modelHash"]))
        self.models.limit_pairs.add(key)
        published = {**{name: _hex(v) if isinstance(v, bytes) else v for name, v in message.items()},
                     "submitter": address(caller)}  # fmt: skip
        out.expect.append(Expectation(CREDIT, "LimitPublished", 0, published))

    def _revoke(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        (party,) = args
        self._effect(out, CREDIT, self.models.credit.revoke(party, caller=caller))
        out.expect.append(Expectation(CREDIT, "LimitRevoked", 0, {"bank": address(caller), "party": party}))
        self.models.limit_details.pop((address(caller), address(party)), None)

    # -- TradeEscrow ----------------------------------------------------------------------

    def _create(self, primary: str, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        raw_terms, buyer_signature, supplier_signature = args
        message = dict(zip(ORDER_NAMES, raw_terms, strict=True))
        buyer = self._recover(ESCROW, primary, ORDER_FIELDS, message, buyer_signature, message["buyer"])
        supplier = self._recover(ESCROW, primary, ORDER_FIELDS, message, supplier_signature, message["supplier"])
        out.signatures += 2
        terms = OrderTerms(*raw_terms)
        create = self.models.escrow.create_order if primary == "Order" else self.models.escrow.create_open_account_order
        effect = create(terms, buyer_signer=buyer, supplier_signer=supplier, caller=caller, now=now)
        self._escrow(out, effect, caller, effect.order_id)

    def _create_order(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        self._create("Order", args, caller, now, out)

    def _create_open_account_order(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        self._create("OpenAccountOrder", args, caller, now, out)

    def _fund(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        (order_id,) = args
        self._escrow(out, self.models.escrow.fund(order_id, caller=caller, now=now), caller, order_id)
        out.expect.append(Expectation(ESCROW, "OrderFunded", 0, {"viaPermit": False}))

    def _fund_with_permit(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        """``fundWithPermit``: the escrow's status checks, then the token's ``permit`` (its failure
        tolerated for the buyer only, who may already have an allowance), then the funding."""
        order_id, deadline, v, r, s = args
        escrow = self.models.escrow
        if escrow.status_of(order_id) != OrderStatus.CREATED or escrow.is_open_account(order_id):
            escrow.fund_with_permit(order_id, caller=caller, now=now)  # raises the contract's error
            raise AssertionError("unreachable: the escrow model accepted an order it cannot fund")
        terms = escrow.terms_of(order_id)
        signer = self._permit_signer(terms.buyer, escrow.escrow, terms.amount, deadline, v, r, s)
        out.signatures += 1
        try:
            permit = self.models.token.permit(
                terms.buyer, escrow.escrow, terms.amount, deadline, signer=signer, now=now
            )
        except ModelRejected:
            if address(caller) != terms.buyer:
                raise ModelRejected("TradeEscrowNotBuyer", ESCROW, orderId=order_id, caller=address(caller)) from None
            permitted = False
        else:
            self._token_effect(out, permit)
            out.expect.append(Expectation(TOKEN, "Approval", 0, {"owner": terms.buyer, "spender": escrow.escrow,
                                                                  "value": terms.amount}))  # fmt: skip
            permitted = True
        self._escrow(out, escrow.fund_with_permit(order_id, caller=caller, now=now), caller, order_id)
        out.expect.append(Expectation(ESCROW, "OrderFunded", 0, {"viaPermit": permitted}))

    def _order_call(self, method: str) -> _Handler:
        def handle(args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
            (order_id,) = args
            self._escrow(out, getattr(self.models.escrow, method)(order_id, caller=caller, now=now), caller, order_id)

        return handle

    def _attest(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        raw, signatures = args
        message = dict(zip(ATTESTATION_NAMES, raw, strict=True))
        signers = [self._recover(ESCROW, "Attestation", ATTESTATION_FIELDS, message, sig) for sig in signatures]
        out.signatures += len(signers)
        order_id, milestone, occurred_at, evidence = raw
        effect = self.models.escrow.attest(order_id, milestone, occurred_at, evidence, signers, caller=caller, now=now)
        self._escrow(out, effect, caller, order_id)
        attested = {
            "milestone": milestone,
            "occurredAt": occurred_at,
            "evidenceHash": _hex(evidence),
            "signers": signers,
        }
        out.expect.append(Expectation(ESCROW, "MilestoneAttested", 0, attested))

    def _contest(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        raw, signatures = args
        message = dict(zip(DECLARATION_NAMES, raw, strict=True))
        signers = [
            self._recover(ESCROW, "ErrorDeclaration", ERROR_DECLARATION_FIELDS, message, sig) for sig in signatures
        ]
        out.signatures += len(signers)
        evidence, reason, declared_at = raw
        use = self.models.escrow.evidence_of(evidence)
        effect = self.models.escrow.contest_milestone(evidence, reason, declared_at, signers, caller=caller, now=now)
        assert use is not None, "a contested milestone was attested"
        self._escrow(out, effect, caller, use[0])
        contested = {"orderId": use[0], "milestone": int(use[1]), "evidenceHash": _hex(evidence),
                     "reasonHash": _hex(reason), "declaredAt": declared_at, "signers": signers}  # fmt: skip
        out.expect.append(Expectation(ESCROW, "MilestoneContested", 0, contested))

    def _open_dispute(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        order_id, reason = args
        self._escrow(out, self.models.escrow.open_dispute(order_id, reason, caller=caller, now=now), caller, order_id)

    def _answer_dispute(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        order_id, response = args
        self._escrow(
            out, self.models.escrow.answer_dispute(order_id, response, caller=caller, now=now), caller, order_id
        )

    def _arbitrate(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        order_id, buyer_amount = args
        self._escrow(
            out, self.models.escrow.arbitrate(order_id, buyer_amount, caller=caller, now=now), caller, order_id
        )

    def _settle_dispute(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        order_id, buyer_amount, deadline, buyer_signature, supplier_signature = args
        message = dict(zip(SETTLEMENT_NAMES, (order_id, buyer_amount, deadline), strict=True))
        parties = self.models.escrow.terms_of(order_id)  # the contract asks the order's own parties
        buyer = self._recover(ESCROW, "Settlement", SETTLEMENT_FIELDS, message, buyer_signature, parties.buyer)
        supplier = self._recover(ESCROW, "Settlement", SETTLEMENT_FIELDS, message, supplier_signature, parties.supplier)
        out.signatures += 2
        effect = self.models.escrow.settle_dispute(
            order_id,
            buyer_amount,
            deadline,
            buyer_signer=buyer,
            supplier_signer=supplier,
            caller=caller,
            now=now,
        )
        self._escrow(out, effect, caller, order_id)

    def _request_prepayment(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        raw, signature = args
        message = dict(zip(PREPAYMENT_OFFER_NAMES, raw, strict=True))
        signer = self._recover(
            ESCROW, "PrepaymentOffer", PREPAYMENT_OFFER_FIELDS, message, signature, message["guarantor"]
        )
        out.signatures += 1
        offer = PrepaymentOffer(*raw)
        escrow = self.models.escrow
        effect = escrow.request_prepayment(offer, signer=signer, caller=caller, now=now)
        self._escrow(out, effect, caller, offer.order_id)
        supplier = escrow.terms_of(offer.order_id).supplier
        released = {"orderId": offer.order_id, "limitLeft": escrow.available_limit(offer.guarantor, supplier, now),
                    "nonce": offer.nonce}  # fmt: skip
        out.expect.append(Expectation(ESCROW, "PrepaymentReleased", 0, released))

    def _fund_pool(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        (amount,) = args
        self._escrow(out, self.models.escrow.fund_pool(amount, caller=caller, now=now))
        pooled = {"guarantor": address(caller), "amount": amount, "available": self.models.escrow.pool(caller)[0]}
        out.expect.append(Expectation(ESCROW, "PoolFunded", 0, pooled))

    def _withdraw_pool(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        (amount,) = args
        self._escrow(out, self.models.escrow.withdraw_pool(amount, caller=caller, now=now))
        left = {"guarantor": address(caller), "amount": amount, "available": self.models.escrow.pool(caller)[0]}
        out.expect.append(Expectation(ESCROW, "PoolWithdrawn", 0, left))

    def _repay_shortfall(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        supplier, guarantor, amount = args
        self._escrow(out, self.models.escrow.repay_shortfall(supplier, guarantor, amount, caller=caller, now=now))
        remaining = self.models.escrow.shortfall(guarantor, supplier)
        repaid = {"supplier": supplier, "guarantor": guarantor, "amount": amount, "remaining": remaining,
                  "payer": address(caller)}  # fmt: skip
        out.expect.append(Expectation(ESCROW, "ShortfallRepaid", 0, repaid))

    def _set_threshold(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        kind, threshold = args
        self._escrow(out, self.models.escrow.set_threshold(kind, threshold, caller=caller))
        set_to = {"kind": kind, "threshold": threshold, "admin": address(caller)}
        out.expect.append(Expectation(ESCROW, "ThresholdSet", 0, set_to))

    def _set_windows(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        (raw,) = args
        self._escrow(out, self.models.escrow.set_windows(Windows(*raw), caller=caller))
        names = ("claimWindow", "answerWindow", "resolveWindow", "maxAttestationAge")
        out.expect.append(
            Expectation(ESCROW, "WindowsSet", 0, {**dict(zip(names, raw, strict=True)), "admin": address(caller)})
        )

    def _set_token_allowed(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        token, allowed = args
        self._escrow(out, self.models.escrow.set_token_allowed(token, allowed, caller=caller))
        out.expect.append(
            Expectation(ESCROW, "TokenAllowed", 0, {"token": token, "allowed": allowed, "admin": address(caller)})
        )

    # -- Receivables ----------------------------------------------------------------------

    def _issue(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        raw, signature = args
        message = dict(zip(ISSUE_NAMES, raw, strict=True))
        signer = self._recover(RECEIVABLES, "ReceivableIssue", ISSUE_FIELDS, message, signature, message["debtor"])
        out.signatures += 1
        effect = self._receivables(
            out, self.models.receivables.issue(IssueTerms(*raw), signer=signer, caller=caller, now=now)
        )
        root = self.models.receivables.root(effect.piece_ids[0])
        issued = {"rootId": root.root_id, "debtor": root.debtor, "creditor": root.creditor, "token": root.token,
                  "faceValue": root.face_value, "maturity": root.maturity, "invoiceHash": _hex(root.invoice_hash),
                  "fingerprint": _hex(root.fingerprint), "invoiceCommitment": _hex(root.invoice_commitment),
                  "orderId": root.order_id, "nonce": message["nonce"],
                  "submitter": address(caller)}  # fmt: skip
        out.expect.append(Expectation(RECEIVABLES, "ReceivableIssued", 0, issued))

    def _split(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        piece_id, raw_children = args
        children = [Child(amount, holder, ref) for amount, holder, ref in raw_children]
        effect = self._receivables(out, self.models.receivables.split(piece_id, children, caller=caller, now=now))
        parent = self.models.receivables.piece(piece_id)
        split = {"pieceId": piece_id, "rootId": parent.root_id, "holder": address(caller),
                 "firstChildId": effect.piece_ids[0], "childCount": len(children)}  # fmt: skip
        out.expect.append(Expectation(RECEIVABLES, "PieceSplit", 0, split))
        for nth, (child_id, child) in enumerate(zip(effect.piece_ids, children, strict=True)):
            created = {"pieceId": child_id, "parentId": piece_id, "rootId": parent.root_id,
                       "holder": address(child.holder), "amount": child.amount, "ref": _hex(child.ref),
                       "financed": parent.financed}  # fmt: skip
            out.expect.append(Expectation(RECEIVABLES, "PieceCreated", nth, created))

    def _finance(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        raw, signature = args
        message = dict(zip(OFFER_NAMES, raw, strict=True))
        signer = self._recover(RECEIVABLES, "FinanceOffer", OFFER_FIELDS, message, signature, message["bank"])
        out.signatures += 1
        offer = FinanceOffer(*raw)
        self._receivables(out, self.models.receivables.finance(offer, signer=signer, caller=caller, now=now))
        piece = self.models.receivables.piece(offer.piece_id)
        financed = {"pieceId": offer.piece_id, "rootId": piece.root_id, "bank": offer.bank, "seller": address(caller),
                    "price": offer.price, "amount": piece.amount, "nonce": offer.nonce}  # fmt: skip
        out.expect.append(Expectation(RECEIVABLES, "PieceFinanced", 0, financed))

    def _repay(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        root_id, amount = args
        self._receivables(out, self.models.receivables.repay(root_id, amount, caller=caller, now=now))
        root = self.models.receivables.root(root_id)
        repaid = {"rootId": root_id, "payer": address(caller), "amount": amount, "repaid": root.repaid,
                  "outstanding": root.face_value - root.repaid, "afterDefault": root.defaulted_at != 0}  # fmt: skip
        out.expect.append(Expectation(RECEIVABLES, "ReceivableRepaid", 0, repaid))

    def _claim(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        (piece_id,) = args
        effect = self._receivables(out, self.models.receivables.claim(piece_id, caller=caller, now=now))
        piece = self.models.receivables.piece(piece_id)
        claimed = {"pieceId": piece_id, "rootId": piece.root_id, "holder": address(caller),
                   "amount": sum(t.amount for t in effect.transfers), "claimed": piece.claimed}  # fmt: skip
        out.expect.append(Expectation(RECEIVABLES, "PieceClaimed", 0, claimed))

    def _mark_defaulted(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        (root_id,) = args
        self._receivables(out, self.models.receivables.mark_defaulted(root_id, caller=caller, now=now))
        root = self.models.receivables.root(root_id)
        defaulted = {"rootId": root_id, "debtor": root.debtor, "outstanding": root.face_value - root.repaid,
                     "by": address(caller)}  # fmt: skip
        out.expect.append(Expectation(RECEIVABLES, "ReceivableDefaulted", 0, defaulted))

    def _set_grace_period(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        (seconds,) = args
        self._receivables(out, self.models.receivables.set_grace_period(seconds, caller=caller))
        out.expect.append(
            Expectation(RECEIVABLES, "GracePeriodSet", 0, {"gracePeriod": seconds, "admin": address(caller)})
        )

    def _transfer_piece(self, args: tuple[Any, ...], caller: str, now: int, out: Outcome) -> None:
        """ERC-721 ``transferFrom`` / ``safeTransferFrom`` by the holder itself (a successful safe
        transfer moves the piece exactly as ``transferFrom``; approvals are not modelled)."""
        source, to, piece_id = args[:3]
        if address(source) != address(caller):
            raise Unmodelled(
                f"piece {piece_id} moved by {caller}, an approved operator of {source}: approvals are not modelled"
            )
        self._receivables(out, self.models.receivables.transfer(piece_id, to, caller=caller, now=now))
        moved = {"from": address(source), "to": address(to), "tokenId": piece_id}
        out.expect.append(Expectation(RECEIVABLES, "Transfer", 0, moved))


#: For reports: the milestone names of MilestoneAttested's indexed argument.
MILESTONES: Final = {int(m): m.name for m in Milestone}
