"""Typed client of TradeEscrow: build and sign the typed data, build calls, send them, and read state back.

``TradeEscrowCalls`` builds the unsigned calls (``ledger.eth.calls``); the client's sending
methods sign one with the given account through ``Chain.send``.

Every party signs with its own key; any account can submit. Reverts surface as
``ContractReverted`` carrying the contract's custom error and its arguments.
"""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3.contract import Contract
from web3.types import TxReceipt

from ledger.domain import typed_data
from ledger.domain.escrow import (
    ATTESTATION_FIELDS,
    ERROR_DECLARATION_FIELDS,
    ORDER_FIELDS,
    PREPAYMENT_OFFER_FIELDS,
    SETTLEMENT_FIELDS,
    Attestation,
    Dispute,
    ErrorDeclaration,
    Milestone,
    Order,
    OrderTerms,
    PrepaymentOffer,
    Windows,
    po_ref_hash,
)
from ledger.domain.typed_data import Domain
from ledger.eth import eip712
from ledger.eth.artifacts import BuildResult
from ledger.eth.calls import Call, ContractCalls
from ledger.eth.chain import Chain
from ledger.eth.events import EventDecoder, LedgerEvent


class TradeEscrowCalls(ContractCalls):
    """The unsigned calls of TradeEscrow, arguments as the client's value types."""

    CONTRACT = "TradeEscrow"
    PARTY_CALLS = frozenset(
        {
            "createOrder",
            "createOpenAccountOrder",
            "fund",
            "fundWithPermit",
            "cancelUnfunded",
            "confirmReceipt",
            "release",
            "refundUnshipped",
            "openDispute",
            "answerDispute",
            "arbitrate",
            "settleDispute",
            "closeExpiredDispute",
            "requestPrepayment",
            "fundPool",
            "withdrawPool",
            "repayShortfall",
        }
    )

    def create_order(self, terms: OrderTerms, buyer_signature: bytes, supplier_signature: bytes) -> Call:
        return self.build("createOrder", terms.as_tuple(), buyer_signature, supplier_signature)

    def create_open_account_order(self, terms: OrderTerms, buyer_signature: bytes, supplier_signature: bytes) -> Call:
        return self.build("createOpenAccountOrder", terms.as_tuple(), buyer_signature, supplier_signature)

    def fund(self, order_id: int) -> Call:
        return self.build("fund", order_id)

    def fund_with_permit(self, order_id: int, permit: tuple[int, int, bytes, bytes]) -> Call:
        deadline, v, r, s = permit
        return self.build("fundWithPermit", order_id, deadline, v, r, s)

    def cancel_unfunded(self, order_id: int) -> Call:
        return self.build("cancelUnfunded", order_id)

    def attest(self, attestation: Attestation, signatures: list[bytes]) -> Call:
        return self.build("attest", attestation.as_tuple(), signatures)

    def confirm_receipt(self, order_id: int) -> Call:
        return self.build("confirmReceipt", order_id)

    def release(self, order_id: int) -> Call:
        return self.build("release", order_id)

    def refund_unshipped(self, order_id: int) -> Call:
        return self.build("refundUnshipped", order_id)

    def open_dispute(self, order_id: int, reason_hash: bytes) -> Call:
        return self.build("openDispute", order_id, reason_hash)

    def contest_milestone(self, declaration: ErrorDeclaration, signatures: list[bytes]) -> Call:
        return self.build("contestMilestone", declaration.as_tuple(), signatures)

    def answer_dispute(self, order_id: int, response_hash: bytes) -> Call:
        return self.build("answerDispute", order_id, response_hash)

    def arbitrate(self, order_id: int, buyer_amount: int) -> Call:
        return self.build("arbitrate", order_id, buyer_amount)

    def settle_dispute(
        self, order_id: int, buyer_amount: int, deadline: int, buyer_signature: bytes, supplier_signature: bytes
    ) -> Call:
        return self.build("settleDispute", order_id, buyer_amount, deadline, buyer_signature, supplier_signature)

    def close_expired_dispute(self, order_id: int) -> Call:
        return self.build("closeExpiredDispute", order_id)

    def request_prepayment(self, offer: PrepaymentOffer, guarantor_signature: bytes) -> Call:
        return self.build("requestPrepayment", offer.as_tuple(), guarantor_signature)

    def fund_pool(self, amount: int) -> Call:
        return self.build("fundPool", amount)

    def withdraw_pool(self, amount: int) -> Call:
        return self.build("withdrawPool", amount)

    def repay_shortfall(self, supplier: str, guarantor: str, amount: int) -> Call:
        return self.build("repayShortfall", to_checksum_address(supplier), to_checksum_address(guarantor), amount)

    def set_threshold(self, kind: int, threshold: int) -> Call:
        return self.build("setThreshold", kind, threshold)

    def set_windows(self, windows: Windows) -> Call:
        raw = (windows.claim_window, windows.answer_window, windows.resolve_window, windows.max_attestation_age)
        return self.build("setWindows", raw)

    def set_token_allowed(self, token: str, allowed: bool) -> Call:
        return self.build("setTokenAllowed", to_checksum_address(token), allowed)


class TradeEscrowClient:
    """TradeEscrow at ``address`` on ``chain``."""

    def __init__(self, chain: Chain, build: BuildResult, address: str) -> None:
        self.chain = chain
        self.contract: Contract = chain.contract(build["TradeEscrow"], address)
        self.address = self.contract.address
        self.calls = TradeEscrowCalls(build["TradeEscrow"].abi, self.address)
        self.domain = Domain("TradeEscrow", "1", chain.chain_id, self.address)
        self._events = EventDecoder(self.contract)

    # -- typed data -------------------------------------------------------------------

    def order_document(self, terms: OrderTerms) -> dict[str, Any]:
        return typed_data.full_message(self.domain, "Order", ORDER_FIELDS, terms.message())

    def open_account_document(self, terms: OrderTerms) -> dict[str, Any]:
        return typed_data.full_message(self.domain, "OpenAccountOrder", ORDER_FIELDS, terms.message())

    def attestation_document(self, attestation: Attestation) -> dict[str, Any]:
        return typed_data.full_message(self.domain, "Attestation", ATTESTATION_FIELDS, attestation.message())

    def error_declaration_document(self, declaration: ErrorDeclaration) -> dict[str, Any]:
        return typed_data.full_message(self.domain, "ErrorDeclaration", ERROR_DECLARATION_FIELDS, declaration.message())

    def settlement_document(self, order_id: int, buyer_amount: int, deadline: int) -> dict[str, Any]:
        message = {"orderId": order_id, "buyerAmount": buyer_amount, "deadline": deadline}
        return typed_data.full_message(self.domain, "Settlement", SETTLEMENT_FIELDS, message)

    def prepayment_offer_document(self, offer: PrepaymentOffer) -> dict[str, Any]:
        return typed_data.full_message(self.domain, "PrepaymentOffer", PREPAYMENT_OFFER_FIELDS, offer.message())

    def sign_order(self, party: LocalAccount, terms: OrderTerms) -> bytes:
        return eip712.sign(party, self.order_document(terms))

    def sign_open_account_order(self, party: LocalAccount, terms: OrderTerms) -> bytes:
        return eip712.sign(party, self.open_account_document(terms))

    def sign_attestation(self, oracle: LocalAccount, attestation: Attestation) -> bytes:
        return eip712.sign(oracle, self.attestation_document(attestation))

    def sign_error_declaration(self, oracle: LocalAccount, declaration: ErrorDeclaration) -> bytes:
        return eip712.sign(oracle, self.error_declaration_document(declaration))

    def sign_settlement(self, party: LocalAccount, order_id: int, buyer_amount: int, deadline: int) -> bytes:
        return eip712.sign(party, self.settlement_document(order_id, buyer_amount, deadline))

    def sign_prepayment_offer(self, bank: LocalAccount, offer: PrepaymentOffer) -> bytes:
        return eip712.sign(bank, self.prepayment_offer_document(offer))

    # -- orders -----------------------------------------------------------------------

    def create_order(
        self, terms: OrderTerms, buyer_signature: bytes, supplier_signature: bytes, sender: LocalAccount
    ) -> tuple[int, TxReceipt]:
        receipt = self.chain.send(self.calls.create_order(terms, buyer_signature, supplier_signature), sender)
        created = self.chain.receipt_events(self.contract, receipt, "OrderCreated")
        return int(created[0]["orderId"]), receipt

    def create_open_account_order(
        self, terms: OrderTerms, buyer_signature: bytes, supplier_signature: bytes, sender: LocalAccount
    ) -> tuple[int, TxReceipt]:
        call = self.calls.create_open_account_order(terms, buyer_signature, supplier_signature)
        receipt = self.chain.send(call, sender)
        created = self.chain.receipt_events(self.contract, receipt, "OrderCreated")
        return int(created[0]["orderId"]), receipt

    def is_open_account(self, order_id: int) -> bool:
        return bool(self.chain.call(self.contract.functions.isOpenAccount(order_id)))

    def fund(self, order_id: int, buyer: LocalAccount) -> TxReceipt:
        return self.chain.send(self.calls.fund(order_id), buyer)

    def fund_with_permit(self, order_id: int, permit: tuple[int, int, bytes, bytes], sender: LocalAccount) -> TxReceipt:
        return self.chain.send(self.calls.fund_with_permit(order_id, permit), sender)

    def cancel_unfunded(self, order_id: int, party: LocalAccount) -> TxReceipt:
        return self.chain.send(self.calls.cancel_unfunded(order_id), party)

    def attest(self, attestation: Attestation, signatures: list[bytes], sender: LocalAccount) -> TxReceipt:
        return self.chain.send(self.calls.attest(attestation, signatures), sender)

    def confirm_receipt(self, order_id: int, buyer: LocalAccount) -> TxReceipt:
        return self.chain.send(self.calls.confirm_receipt(order_id), buyer)

    def release(self, order_id: int, sender: LocalAccount) -> TxReceipt:
        return self.chain.send(self.calls.release(order_id), sender)

    def refund_unshipped(self, order_id: int, sender: LocalAccount) -> TxReceipt:
        return self.chain.send(self.calls.refund_unshipped(order_id), sender)

    # -- disputes ---------------------------------------------------------------------

    def open_dispute(self, order_id: int, reason_hash: bytes, buyer: LocalAccount) -> TxReceipt:
        return self.chain.send(self.calls.open_dispute(order_id, reason_hash), buyer)

    def contest_milestone(
        self, declaration: ErrorDeclaration, signatures: list[bytes], sender: LocalAccount
    ) -> TxReceipt:
        """Dispute the order whose milestone was attested with ``declaration.evidence_hash``."""
        return self.chain.send(self.calls.contest_milestone(declaration, signatures), sender)

    def answer_dispute(self, order_id: int, response_hash: bytes, supplier: LocalAccount) -> TxReceipt:
        return self.chain.send(self.calls.answer_dispute(order_id, response_hash), supplier)

    def arbitrate(self, order_id: int, buyer_amount: int, arbiter: LocalAccount) -> TxReceipt:
        return self.chain.send(self.calls.arbitrate(order_id, buyer_amount), arbiter)

    def settle_dispute(
        self,
        order_id: int,
        buyer_amount: int,
        deadline: int,
        buyer_signature: bytes,
        supplier_signature: bytes,
        sender: LocalAccount,
    ) -> TxReceipt:
        call = self.calls.settle_dispute(order_id, buyer_amount, deadline, buyer_signature, supplier_signature)
        return self.chain.send(call, sender)

    def close_expired_dispute(self, order_id: int, sender: LocalAccount) -> TxReceipt:
        return self.chain.send(self.calls.close_expired_dispute(order_id), sender)

    # -- assured pre-payment ----------------------------------------------------------

    def request_prepayment(
        self, offer: PrepaymentOffer, guarantor_signature: bytes, supplier: LocalAccount
    ) -> TxReceipt:
        """The order's supplier accepts ``offer``, signed by ``offer.guarantor``."""
        return self.chain.send(self.calls.request_prepayment(offer, guarantor_signature), supplier)

    def fund_pool(self, amount: int, bank: LocalAccount) -> TxReceipt:
        return self.chain.send(self.calls.fund_pool(amount), bank)

    def withdraw_pool(self, amount: int, bank: LocalAccount) -> TxReceipt:
        return self.chain.send(self.calls.withdraw_pool(amount), bank)

    def repay_shortfall(self, supplier: str, guarantor: str, amount: int, payer: LocalAccount) -> TxReceipt:
        return self.chain.send(self.calls.repay_shortfall(supplier, guarantor, amount), payer)

    # -- administration ---------------------------------------------------------------

    def set_threshold(self, kind: int, threshold: int, admin: LocalAccount) -> TxReceipt:
        return self.chain.send(self.calls.set_threshold(kind, threshold), admin)

    def set_windows(self, windows: Windows, admin: LocalAccount) -> TxReceipt:
        return self.chain.send(self.calls.set_windows(windows), admin)

    def set_token_allowed(self, token: str, allowed: bool, admin: LocalAccount) -> TxReceipt:
        return self.chain.send(self.calls.set_token_allowed(token, allowed), admin)

    # -- reading ----------------------------------------------------------------------

    def order(self, order_id: int) -> Order:
        return Order.from_view(order_id, self.chain.call(self.contract.functions.orderOf(order_id)))

    def dispute(self, order_id: int) -> Dispute:
        return Dispute(*self.chain.call(self.contract.functions.disputeOf(order_id)))

    def order_id_of_po(self, reference: str) -> int:
        return int(self.chain.call(self.contract.functions.orderIdOfPoRef(po_ref_hash(reference))))

    def evidence_of(self, evidence_hash: bytes) -> tuple[int, Milestone] | None:
        """(order id, milestone) ``evidence_hash`` was attested for; None when it never was."""
        order_id, milestone = self.chain.call(self.contract.functions.evidenceOf(evidence_hash))
        return (int(order_id), Milestone(milestone)) if milestone else None

    def windows(self) -> Windows:
        return Windows(*self.chain.call(self.contract.functions.windows()))

    def threshold(self, kind: int) -> int:
        return int(self.chain.call(self.contract.functions.threshold(kind)))

    def pool(self, guarantor: str) -> tuple[int, int]:
        available, reserved = self.chain.call(self.contract.functions.pool(to_checksum_address(guarantor)))
        return int(available), int(reserved)

    def available_limit(self, guarantor: str, supplier: str) -> int:
        fn = self.contract.functions.availableLimit(to_checksum_address(guarantor), to_checksum_address(supplier))
        return int(self.chain.call(fn))

    def exposure(self, guarantor: str, supplier: str) -> int:
        fn = self.contract.functions.exposure(to_checksum_address(guarantor), to_checksum_address(supplier))
        return int(self.chain.call(fn))

    def shortfall(self, guarantor: str, supplier: str) -> int:
        fn = self.contract.functions.shortfall(to_checksum_address(guarantor), to_checksum_address(supplier))
        return int(self.chain.call(fn))

    def prepayment_nonce_used(self, guarantor: str, nonce: int) -> bool:
        fn = self.contract.functions.prepaymentNonceUsed(to_checksum_address(guarantor), nonce)
        return bool(self.chain.call(fn))

    def events(self, receipt: TxReceipt) -> list[LedgerEvent]:
        """Every TradeEscrow event in ``receipt``, decoded, in log order."""
        return self._events.decode(receipt)
