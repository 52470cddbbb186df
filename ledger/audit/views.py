"""The re-derived state against the contracts' own views, read at the replay's last block.

Every key the models know of is read back in JSON-RPC batches (``eth_call`` at the block):
each order, dispute, evidence hash, pool, exposure, shortfall and limit of TradeEscrow; each
root, piece, holder and claimable amount of Receivables; each limit record and nonce of
CreditRegistry; each member of Membership; each balance, allowance and permit nonce of the
settlement token; the counters of each. Views that depend on the time (``availableLimit``,
``limitOf``) are predicted for the block's timestamp.

Calls are encoded and answers decoded by hand (static arguments, the replay's lean decoder)
and compared as ABI tuples, built from the models' state; a difference is a ``Mismatch`` of
kind ``view`` naming the view and its key, with both sides spelled out field by field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from eth_utils import function_signature_to_4byte_selector

from ledger.audit.report import Kind, Location, Mismatch
from ledger.audit.state import CREDIT, ESCROW, MEMBERSHIP, RECEIVABLES, TOKEN, LedgerModels
from ledger.domain.escrow import Dispute, Order
from ledger.domain.receivables import Piece, Root
from ledger.eth.abi import abi_type
from ledger.eth.calldata import _Tuple, tuple_decoder
from ledger.eth.rpc import Rpc, RpcFailed
from ledger.model.common import ROLE_BANK


def _word(kind: str, value: Any) -> str:
    if kind == "address":
        return "0" * 24 + value[2:].lower()
    if kind == "bool":
        return "0" * 63 + ("1" if value else "0")
    if kind.startswith("bytes"):
        return bytes(value).hex().ljust(64, "0")
    return f"{value:064x}"


class ViewFn:
    """One view of the contract at ``address``: static arguments, any outputs."""

    def __init__(self, at: str, abi: Sequence[Mapping[str, Any]], name: str) -> None:
        item = next(i for i in abi if i.get("type") == "function" and i["name"] == name)
        self.address = at
        self.name = name
        self.inputs = tuple(abi_type(p) for p in item["inputs"])
        if any(k in ("string", "bytes") or k.endswith("]") or k.startswith("(") for k in self.inputs):
            raise ValueError(f"{name} takes dynamic arguments: not a view the replay reads")
        self.outputs: list[Mapping[str, Any]] = list(item["outputs"])
        self.decoder: _Tuple = tuple_decoder(self.outputs)
        self.prefix = "0x" + function_signature_to_4byte_selector(f"{name}({','.join(self.inputs)})").hex()

    def request(self, *args: Any) -> dict[str, str]:
        return {"to": self.address, "data": self.prefix + "".join(map(_word, self.inputs, args))}

    def decode(self, raw: bytes) -> tuple[Any, ...]:
        return self.decoder.decode(raw, 0)

    def named(self, values: Any) -> Any:
        """``values`` (an output tuple) with the ABI's field names, for the report."""
        if not isinstance(values, tuple) or len(values) != len(self.outputs):
            return values
        named = [_named(p, v) for p, v in zip(self.outputs, values, strict=True)]
        if len(named) == 1:
            return named[0]
        return {str(p.get("name") or i): v for i, (p, v) in enumerate(zip(self.outputs, named, strict=True))}


def _named(param: Mapping[str, Any], value: Any) -> Any:
    if param.get("type") == "tuple" and isinstance(value, tuple):
        return {str(c["name"]): _named(c, v) for c, v in zip(param["components"], value, strict=True)}
    return value


# -- the models' state as the views' ABI tuples ----------------------------------------


def order_tuple(o: Order) -> tuple[Any, ...]:
    t = o.terms
    terms = (t.buyer, t.supplier, t.token, t.amount, t.ship_by, t.deliver_by, t.inspection_required,
             t.terms_hash, t.po_ref_hash, t.nonce, t.deadline)  # fmt: skip
    return (terms, int(o.status), o.created_at, o.funded_at, o.shipped_at, o.delivered_at, o.delivered_recorded_at,
            o.inspected_at, o.closed_at, o.escrowed, o.prepaid, o.guarantor, o.prepayment_fee, o.paid_to_supplier,
            o.refunded_to_buyer, o.guarantee_claimed)  # fmt: skip


def dispute_tuple(d: Dispute) -> tuple[Any, ...]:
    return (d.opened_at, d.answer_by, d.resolve_by, d.answered, d.reason_hash, d.response_hash)


def root_tuple(r: Root) -> tuple[Any, ...]:
    return (r.debtor, r.creditor, r.token, r.face_value, r.maturity, r.issued_at, r.defaulted_at, r.invoice_hash,
            r.fingerprint, r.invoice_commitment, r.order_id, r.repaid, r.claimed)  # fmt: skip


def piece_tuple(p: Piece) -> tuple[Any, ...]:
    return (p.root_id, p.parent_id, p.amount, p.claimed, p.ref, p.first_child_id, p.child_count, p.financed,
            p.created_at)  # fmt: skip


@dataclass(frozen=True)
class ViewCheck:
    """``fn(*args)`` must answer ``expected`` (the whole output tuple)."""

    contract: str
    fn: ViewFn
    args: tuple[Any, ...]
    expected: tuple[Any, ...]

    @property
    def key(self) -> str:
        return ", ".join("0x" + a.hex() if isinstance(a, bytes) else str(a) for a in self.args)


class Views:
    """The views of the deployed contracts, built once from their ABIs."""

    def __init__(self, addresses: Mapping[str, str], abis: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        self.addresses = dict(addresses)
        self.abis = abis
        self._fns: dict[tuple[str, str, str], ViewFn] = {}

    def fn(self, contract: str, name: str, at: str | None = None) -> ViewFn:
        """``name`` of ``contract`` (at ``at``: another token read with the settlement token's ABI)."""
        where = at or self.addresses[contract]
        key = (contract, name, where)
        if key not in self._fns:
            self._fns[key] = ViewFn(where, self.abis[contract], name)
        return self._fns[key]

    def check(self, contract: str, name: str, args: tuple[Any, ...], *expected: Any) -> ViewCheck:
        return ViewCheck(contract, self.fn(contract, name), args, tuple(expected))


def state_checks(views: Views, models: LedgerModels, timestamp: int) -> list[ViewCheck]:
    """One check per view and key the models know, predicted for a block at ``timestamp``."""
    checks: list[ViewCheck] = []
    add, c = checks.append, views.check
    escrow, receivables, credit = models.escrow, models.receivables, models.credit
    token, membership = models.token, models.membership

    # -- Membership
    add(c(MEMBERSHIP, "memberCount", (), membership.member_count))
    add(c(MEMBERSHIP, "activeAdminCount", (), membership.active_admin_count))
    for party in membership.parties():
        add(c(MEMBERSHIP, "memberOf", (party,), membership.member(party).as_tuple()))

    # -- SettlementToken
    add(c(TOKEN, "totalSupply", (), token.total_supply))
    for holder, balance in token.balances().items():
        add(c(TOKEN, "balanceOf", (holder,), balance))
    for owner, nonce in token.nonces().items():
        add(c(TOKEN, "nonces", (owner,), nonce))
    for (owner, spender), value in token.allowances().items():
        add(c(TOKEN, "allowance", (owner, spender), value))
    for other in sorted(models.other_tokens):
        add(ViewCheck(TOKEN, views.fn(TOKEN, "balanceOf", other), (escrow.escrow,), (escrow.held(other),)))

    # -- CreditRegistry
    banks = [p for p in membership.parties() if membership.member(p).roles & ROLE_BANK]
    for bank in sorted(set(banks) | set(credit.nonces)):
        add(c(CREDIT, "nonces", (bank,), credit.nonce(bank)))
    for bank, party in sorted(models.limit_pairs):
        record = credit.records.get((bank, party))
        score, grade, model_hash = models.limit_details.get((bank, party), (0, 0, bytes(32)))
        stored = (
            (record.limit, score, grade, model_hash, record.valid_until, record.published_at)
            if record
            else (0, 0, 0, bytes(32), 0, 0)
        )
        add(c(CREDIT, "recordOf", (bank, party), stored))
        add(c(CREDIT, "limitOf", (bank, party), credit.limit_of(bank, party, timestamp)))

    # -- TradeEscrow
    state = escrow.state()
    add(c(ESCROW, "orderCount", (), state.order_count))
    for order_id, order in state.orders.items():
        add(c(ESCROW, "orderOf", (order_id,), order_tuple(order)))
        add(c(ESCROW, "isOpenAccount", (order_id,), escrow.is_open_account(order_id)))
        add(c(ESCROW, "orderIdOfPoRef", (order.terms.po_ref_hash,), order_id))
    for order_id, dispute in state.disputes.items():
        add(c(ESCROW, "disputeOf", (order_id,), dispute_tuple(dispute)))
    for evidence, (order_id, milestone) in state.evidence.items():
        add(c(ESCROW, "evidenceOf", (evidence,), order_id, int(milestone)))
    for guarantor in sorted(set(banks) | set(state.pools)):
        add(c(ESCROW, "pool", (guarantor,), *escrow.pool(guarantor)))
    for guarantor, supplier in sorted(set(state.exposure) | set(state.shortfall) | set(credit.records)):
        add(c(ESCROW, "exposure", (guarantor, supplier), escrow.exposure(guarantor, supplier)))
        add(c(ESCROW, "shortfall", (guarantor, supplier), escrow.shortfall(guarantor, supplier)))
        add(c(ESCROW, "availableLimit", (guarantor, supplier), escrow.available_limit(guarantor, supplier, timestamp)))
    for kind in (1, 2, 3):
        add(c(ESCROW, "threshold", (kind,), escrow.thresholds.get(kind, 0)))
    w = escrow.windows
    add(c(ESCROW, "windows", (), (w.claim_window, w.answer_window, w.resolve_window, w.max_attestation_age)))
    for allowed_token, allowed in escrow.token_allowed.items():
        add(c(ESCROW, "tokenAllowed", (allowed_token,), allowed))

    # -- Receivables
    add(c(RECEIVABLES, "pieceCount", (), receivables.piece_count))
    add(c(RECEIVABLES, "gracePeriod", (), receivables.grace_period))
    orders_issued: set[int] = set()
    for root_id in receivables.root_ids():
        root = receivables.root(root_id)
        add(c(RECEIVABLES, "rootOf", (root_id,), root_tuple(root)))
        add(c(RECEIVABLES, "statusOf", (root_id,), int(receivables.status(root_id))))
        add(c(RECEIVABLES, "rootIdOfFingerprint", (root.fingerprint,), root_id))
        if root.order_id:
            orders_issued.add(root.order_id)
    for order_id in sorted(orders_issued):
        add(c(RECEIVABLES, "issuedAgainstOrder", (order_id,), receivables.issued_against_order(order_id)))
    for piece_id in receivables.piece_ids():
        piece = receivables.piece(piece_id)
        add(c(RECEIVABLES, "pieceOf", (piece_id,), piece_tuple(piece)))
        add(c(RECEIVABLES, "ownerOf", (piece_id,), receivables.holder_of(piece_id)))
        if piece.is_leaf:
            add(c(RECEIVABLES, "claimable", (piece_id,), receivables.claimable(piece_id)))
    return checks


def compare(rpc: Rpc, checks: Sequence[ViewCheck], block: int, *, readers: int = 2) -> list[Mismatch]:
    """Read every check's view at ``block`` (``readers`` batches at a time over HTTP: a node
    answers each on a core of its own); a mismatch for each that differs (or reverts)."""
    requests_ = [check.fn.request(*check.args) for check in checks]
    if rpc.batches and readers > 1 and len(requests_) > rpc.size:
        chunks = [requests_[i : i + rpc.size] for i in range(0, len(requests_), rpc.size)]
        with ThreadPoolExecutor(readers, thread_name_prefix="audit-views") as pool:
            answers = [answer for part in pool.map(lambda chunk: rpc.calls(chunk, block), chunks) for answer in part]
    else:
        answers = rpc.calls(requests_, block)
    found: list[Mismatch] = []
    for check, answer in zip(checks, answers, strict=True):
        if isinstance(answer, RpcFailed):
            actual: Any = f"reverted: {answer.message}"
        else:
            try:
                actual = check.fn.decode(answer)
            except Exception as exc:  # an answer the ABI cannot decode is a disagreement too
                actual = f"undecodable answer 0x{answer.hex()}: {type(exc).__name__}: {exc}"
        if actual != check.expected:
            expected, answered = check.fn.named(check.expected), check.fn.named(actual)
            detail = f"{check.contract}.{check.fn.name}({check.key}) differs from the replayed state"
            if isinstance(expected, dict) and isinstance(answered, dict):
                fields = [k for k in expected if expected[k] != answered.get(k)]
                detail += f" in {', '.join(fields)}"
            found.append(
                Mismatch(
                    Kind.VIEW,
                    Location(block=block, contract=check.contract, view=check.fn.name, key=check.key),
                    expected,
                    answered,
                    detail,
                )
            )
    return found
