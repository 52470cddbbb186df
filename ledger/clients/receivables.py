"""Typed client of Receivables: issue on the debtor's signature, split, finance, repay, claim.

Every party signs with its own key; any allowed account submits. Reverts surface as
``ContractReverted`` carrying the contract's custom error and its arguments. The value
types are in ``ledger.domain.receivables``; the invoice fingerprints the debtor signs are computed
off chain by ``ledger.domain.fingerprints``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3.contract import Contract
from web3.types import TxReceipt

from ledger.domain import typed_data
from ledger.domain.receivables import (
    ISSUE_FIELDS,
    OFFER_FIELDS,
    Child,
    FinanceOffer,
    IssueTerms,
    Piece,
    ReceivableStatus,
    Root,
)
from ledger.domain.typed_data import Domain
from ledger.eth import eip712
from ledger.eth.artifacts import BuildResult
from ledger.eth.calls import Call, ContractCalls
from ledger.eth.chain import Chain
from ledger.eth.events import EventDecoder, LedgerEvent


class ReceivablesCalls(ContractCalls):
    """The unsigned calls of Receivables, arguments as the client's value types."""

    CONTRACT = "Receivables"
    PARTY_CALLS = frozenset({"issue", "split", "finance", "repay", "claim", "markDefaulted", "transferFrom"})

    def issue(self, terms: IssueTerms, debtor_signature: bytes) -> Call:
        return self.build("issue", terms.as_tuple(), debtor_signature)

    def split(self, piece_id: int, children: Sequence[Child]) -> Call:
        return self.build("split", piece_id, [child.as_tuple() for child in children])

    def finance(self, offer: FinanceOffer, bank_signature: bytes) -> Call:
        return self.build("finance", offer.as_tuple(), bank_signature)

    def repay(self, root_id: int, amount: int) -> Call:
        return self.build("repay", root_id, amount)

    def claim(self, piece_id: int) -> Call:
        return self.build("claim", piece_id)

    def mark_defaulted(self, root_id: int) -> Call:
        return self.build("markDefaulted", root_id)

    def transfer(self, holder: str, to: str, piece_id: int) -> Call:
        """ERC-721 ``transferFrom(holder, to, piece_id)``, which the holder itself sends."""
        return self.build("transferFrom", to_checksum_address(holder), to_checksum_address(to), piece_id)

    def set_grace_period(self, seconds: int) -> Call:
        return self.build("setGracePeriod", seconds)


class ReceivablesClient:
    """Receivables at ``address`` on ``chain``."""

    def __init__(self, chain: Chain, build: BuildResult, address: str) -> None:
        self.chain = chain
        self.contract: Contract = chain.contract(build["Receivables"], address)
        self.address = self.contract.address
        self.calls = ReceivablesCalls(build["Receivables"].abi, self.address)
        self.domain = Domain("Receivables", "1", chain.chain_id, self.address)
        self._events = EventDecoder(self.contract)

    # -- typed data -------------------------------------------------------------------

    def issue_document(self, terms: IssueTerms) -> dict[str, Any]:
        return typed_data.full_message(self.domain, "ReceivableIssue", ISSUE_FIELDS, terms.message())

    def offer_document(self, offer: FinanceOffer) -> dict[str, Any]:
        return typed_data.full_message(self.domain, "FinanceOffer", OFFER_FIELDS, offer.message())

    def sign_issue(self, debtor: LocalAccount, terms: IssueTerms) -> bytes:
        return eip712.sign(debtor, self.issue_document(terms))

    def sign_offer(self, bank: LocalAccount, offer: FinanceOffer) -> bytes:
        return eip712.sign(bank, self.offer_document(offer))

    # -- operations -----------------------------------------------------------------------

    def issue(self, terms: IssueTerms, debtor_signature: bytes, sender: LocalAccount) -> tuple[int, TxReceipt]:
        receipt = self.chain.send(self.calls.issue(terms, debtor_signature), sender)
        issued = self.chain.receipt_events(self.contract, receipt, "ReceivableIssued")
        return int(issued[0]["rootId"]), receipt

    def split(self, piece_id: int, children: list[Child], holder: LocalAccount) -> tuple[list[int], TxReceipt]:
        """Split ``piece_id``; the new piece ids in the order of ``children``."""
        receipt = self.chain.send(self.calls.split(piece_id, children), holder)
        created = self.chain.receipt_events(self.contract, receipt, "PieceCreated")
        return [int(event["pieceId"]) for event in created], receipt

    def finance(self, offer: FinanceOffer, bank_signature: bytes, holder: LocalAccount) -> TxReceipt:
        return self.chain.send(self.calls.finance(offer, bank_signature), holder)

    def repay(self, root_id: int, amount: int, payer: LocalAccount) -> TxReceipt:
        return self.chain.send(self.calls.repay(root_id, amount), payer)

    def claim(self, piece_id: int, holder: LocalAccount) -> tuple[int, TxReceipt]:
        receipt = self.chain.send(self.calls.claim(piece_id), holder)
        claimed = self.chain.receipt_events(self.contract, receipt, "PieceClaimed")
        return int(claimed[0]["amount"]), receipt

    def mark_defaulted(self, root_id: int, sender: LocalAccount) -> TxReceipt:
        return self.chain.send(self.calls.mark_defaulted(root_id), sender)

    def transfer(self, piece_id: int, to: str, holder: LocalAccount) -> TxReceipt:
        return self.chain.send(self.calls.transfer(holder.address, to, piece_id), holder)

    def set_grace_period(self, seconds: int, admin: LocalAccount) -> TxReceipt:
        return self.chain.send(self.calls.set_grace_period(seconds), admin)

    # -- reading ----------------------------------------------------------------------

    def root(self, root_id: int) -> Root:
        return Root.from_tuple(root_id, self.chain.call(self.contract.functions.rootOf(root_id)))

    def piece(self, piece_id: int) -> Piece:
        return Piece.from_tuple(piece_id, self.chain.call(self.contract.functions.pieceOf(piece_id)))

    def status(self, root_id: int) -> ReceivableStatus:
        return ReceivableStatus(self.chain.call(self.contract.functions.statusOf(root_id)))

    def claimable(self, piece_id: int) -> int:
        return int(self.chain.call(self.contract.functions.claimable(piece_id)))

    def outstanding(self, root_id: int) -> int:
        return int(self.chain.call(self.contract.functions.outstanding(root_id)))

    def holder_of(self, piece_id: int) -> str:
        return to_checksum_address(self.chain.call(self.contract.functions.ownerOf(piece_id)))

    def piece_count(self) -> int:
        return int(self.chain.call(self.contract.functions.pieceCount()))

    def root_id_of_fingerprint(self, fingerprint: bytes) -> int:
        """The root issued for the invoice with this fingerprint, 0 when none."""
        return int(self.chain.call(self.contract.functions.rootIdOfFingerprint(bytes(fingerprint))))

    def issued_against_order(self, order_id: int) -> int:
        return int(self.chain.call(self.contract.functions.issuedAgainstOrder(order_id)))

    def nonce_used(self, debtor: str, nonce: int) -> bool:
        return bool(self.chain.call(self.contract.functions.nonceUsed(to_checksum_address(debtor), nonce)))

    def offer_nonce_used(self, bank: str, nonce: int) -> bool:
        return bool(self.chain.call(self.contract.functions.offerNonceUsed(to_checksum_address(bank), nonce)))

    def grace_period(self) -> int:
        return int(self.chain.call(self.contract.functions.gracePeriod()))

    def tree(self, root_id: int) -> list[Piece]:
        """Every piece of ``root_id``'s tree, parents before children (reads views)."""
        pieces, queue = [], [root_id]
        while queue:
            piece = self.piece(queue.pop(0))
            pieces.append(piece)
            queue.extend(piece.children)
        return pieces

    def events(self, receipt: TxReceipt) -> list[LedgerEvent]:
        """Every Receivables event in ``receipt`` (ERC-721 ones included), decoded, in log order."""
        return self._events.decode(receipt)
