"""What the indexer's database must say: the chain's history digest, and the contracts' views."""

from __future__ import annotations

from typing import Any

from eth_utils import to_checksum_address
from sqlalchemy import Engine, select

from ledger.domain.receivables import ReceivableStatus
from ledger.eth.history import HistoryDigest, LogDecoder, fetch_logs
from ledger.index.projections import ORDER_STATUS
from ledger.index.sql import database_digest, models
from ledger.index.sql.types import ZERO_ADDRESS
from tests.support.deployments import Deployed
from tests.support.escrow import bound, escrow_of, quick, read_order, registry_of, tokens_of
from tests.support.receivables import receivables_of


def chain_digest(deployed: Deployed, to_block: int | None = None) -> tuple[str, int]:
    """The history digest of every log of the deployed contracts, read from the node."""
    decoder = LogDecoder(deployed.addresses, {name: deployed.build[name].abi for name in deployed.addresses})
    head = deployed.chain.block_number if to_block is None else to_block
    digest = HistoryDigest(deployed.chain.chain_id)
    for _, _, logs in fetch_logs(deployed.chain, decoder.addresses, 0, head):
        digest.add_many(logs)
    return digest.hex, digest.count


def rows(engine: Engine, model: type[models.Base], chain_id: int) -> list[dict[str, Any]]:
    table = models.table_of(model)
    with engine.connect() as conn:
        found = conn.execute(select(table).where(table.c.chain_id == chain_id)).mappings().all()
    return [dict(row) for row in found]


def cursor_of(engine: Engine, chain_id: int) -> dict[str, Any] | None:
    found = rows(engine, models.Cursor, chain_id)
    return found[0] if found else None


def hexed(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def assert_database_is_the_chain(engine: Engine, deployed: Deployed) -> None:
    """Digest, cursor and every projection equal what the chain says now."""
    chain_id = deployed.chain.chain_id
    expected = chain_digest(deployed)
    assert database_digest(engine, chain_id) == expected
    cursor = cursor_of(engine, chain_id)
    assert cursor is not None
    assert (cursor["digest"], cursor["event_count"]) == expected
    assert cursor["block_number"] == deployed.chain.block_number
    assert_projections_match_views(engine, deployed)


def assert_projections_match_views(engine: Engine, deployed: Deployed) -> None:
    chain_id = deployed.chain.chain_id
    call = quick(deployed).call
    escrow, receivables, registry = escrow_of(deployed), receivables_of(deployed), registry_of(deployed)

    # Orders: every field of orderOf (the signature deadline aside), and their disputes.
    orders = {row["order_id"]: row for row in rows(engine, models.Order, chain_id)}
    count = int(call(bound(deployed, escrow.contract, "orderCount")))
    assert sorted(orders) == list(range(1, count + 1))
    disputes = {row["order_id"]: row for row in rows(engine, models.Dispute, chain_id)}
    drawn: dict[tuple[str, str], tuple[int, int]] = {}  # (guarantor, supplier) -> (prepaid, fees)
    for order_id, row in orders.items():
        order = read_order(deployed, order_id)
        terms = order.terms
        if order.prepaid:
            prepaid, fees = drawn.get((order.guarantor, terms.supplier), (0, 0))
            drawn[(order.guarantor, terms.supplier)] = (prepaid + order.prepaid, fees + order.prepayment_fee)
        assert {k: row[k] for k in _ORDER_KEYS} == {
            "buyer": terms.buyer,
            "supplier": terms.supplier,
            "token": terms.token,
            "amount": terms.amount,
            "ship_by": terms.ship_by,
            "deliver_by": terms.deliver_by,
            "inspection_required": terms.inspection_required,
            "terms_hash": hexed(terms.terms_hash),
            "po_ref_hash": hexed(terms.po_ref_hash),
            "nonce": terms.nonce,
            "status": ORDER_STATUS[order.status],
            "created_at": order.created_at,
            "funded_at": order.funded_at,
            "shipped_at": order.shipped_at,
            "delivered_at": order.delivered_at,
            "delivered_recorded_at": order.delivered_recorded_at,
            "inspected_at": order.inspected_at,
            "closed_at": order.closed_at,
            "escrowed": order.escrowed,
            "prepaid": order.prepaid,
            "guarantor": order.guarantor,
            "prepayment_fee": order.prepayment_fee,
            "paid_to_supplier": order.paid_to_supplier,
            "refunded_to_buyer": order.refunded_to_buyer,
            "guarantee_claimed": order.guarantee_claimed,
        }, order_id
        assert row["open_account"] == escrow.is_open_account(order_id)
        dispute = escrow.dispute(order_id)
        if order_id in disputes:
            found = disputes[order_id]
            assert (
                found["opened_at"],
                found["answer_by"],
                found["resolve_by"],
                found["answered"],
                found["reason_hash"],
                found["response_hash"],
            ) == (
                dispute.opened_at,
                dispute.answer_by,
                dispute.resolve_by,
                dispute.answered,
                hexed(dispute.reason_hash),
                hexed(dispute.response_hash),
            ), order_id
        else:
            assert dispute.opened_at == 0, order_id

    # Milestones: each evidence names its order and milestone on chain.
    for row in rows(engine, models.Milestone, chain_id):
        assert escrow.evidence_of(bytes.fromhex(row["evidence_hash"][2:])) == (row["order_id"], row["milestone"])

    # Parties: memberOf, and one row per member ever admitted.
    parties = rows(engine, models.Party, chain_id)
    membership = deployed.membership
    assert len(parties) == int(call(bound(deployed, membership, "memberCount")))
    for row in parties:
        roles, kind, status, kyc, admitted_at = call(bound(deployed, membership, "memberOf", row["address"]))
        assert (row["roles"], row["oracle_kind"], row["status"], row["kyc_hash"], row["admitted_at"]) == (
            roles,
            kind,
            ("NONE", "ACTIVE", "SUSPENDED")[status],
            hexed(kyc),
            admitted_at,
        )

    # Credit limits: recordOf (zeros once revoked).
    for row in rows(engine, models.CreditLimit, chain_id):
        record = call(bound(deployed, registry.contract, "recordOf", row["bank"], row["party"]))
        limit, score, grade, model_hash, valid_until, published_at = record
        assert (row["limit"], row["score"], row["grade"], row["model_hash"], row["valid_until"]) == (
            limit,
            score,
            grade,
            hexed(model_hash),
            valid_until,
        )
        assert row["published_at"] == published_at

    # Guarantees and pools: the totals are the orders' pre-payments (one at most per order) and fees.
    for row in rows(engine, models.Guarantee, chain_id):
        assert (row["exposure"], row["shortfall"]) == (
            escrow.exposure(row["guarantor"], row["supplier"]),
            escrow.shortfall(row["guarantor"], row["supplier"]),
        )
        assert (row["prepaid_total"], row["fees_total"]) == drawn.get((row["guarantor"], row["supplier"]), (0, 0))
    for row in rows(engine, models.Pool, chain_id):
        assert (row["available"], row["reserved"]) == escrow.pool(row["guarantor"])

    # Receivables: every piece (pieceOf, ownerOf), every root (rootOf, statusOf).
    pieces = {row["piece_id"]: row for row in rows(engine, models.Piece, chain_id)}
    assert sorted(pieces) == list(range(1, receivables.piece_count() + 1))
    for piece_id, row in pieces.items():
        piece = receivables.piece(piece_id)
        assert (
            row["root_id"],
            row["parent_id"],
            row["amount"],
            row["claimed"],
            row["ref"],
            row["first_child_id"],
            row["child_count"],
            row["financed"],
            row["created_at"],
            row["holder"],
        ) == (
            piece.root_id,
            piece.parent_id,
            piece.amount,
            piece.claimed,
            hexed(piece.ref),
            piece.first_child_id,
            piece.child_count,
            piece.financed,
            piece.created_at,
            receivables.holder_of(piece_id),
        ), piece_id
    roots = {row["root_id"]: row for row in rows(engine, models.Root, chain_id)}
    assert sorted(roots) == sorted(i for i, row in pieces.items() if row["root_id"] == i)
    for root_id, row in roots.items():
        root = receivables.root(root_id)
        assert (
            row["debtor"],
            row["creditor"],
            row["token"],
            row["face_value"],
            row["maturity"],
            row["issued_at"],
            row["defaulted_at"],
            row["invoice_hash"],
            row["fingerprint"],
            row["invoice_commitment"],
            row["order_id"],
            row["repaid"],
            row["claimed"],
            row["status"],
        ) == (
            root.debtor,
            root.creditor,
            root.token,
            root.face_value,
            root.maturity,
            root.issued_at,
            root.defaulted_at,
            hexed(root.invoice_hash),
            hexed(root.fingerprint),
            hexed(root.invoice_commitment),
            root.order_id,
            root.repaid,
            root.claimed,
            ReceivableStatus(receivables.status(root_id)).name,
        ), root_id
    repayments, claims = rows(engine, models.Repayment, chain_id), rows(engine, models.Claim, chain_id)
    for root_id, row in roots.items():
        assert sum(r["amount"] for r in repayments if r["root_id"] == root_id) == row["repaid"]
    for piece_id, row in pieces.items():
        assert sum(c["amount"] for c in claims if c["piece_id"] == piece_id) == row["claimed"]
    financed = {f["piece_id"] for f in rows(engine, models.Financing, chain_id)}
    assert financed <= {i for i, row in pieces.items() if row["financed"]}

    # Token balances: balanceOf of every holder seen; together, the supply.
    tokens = tokens_of(deployed)
    balances = [row for row in rows(engine, models.Balance, chain_id) if row["token"] == tokens.address]
    for row in balances:
        assert row["balance"] == tokens.balance_of(row["holder"]), row["holder"]
    supply = int(call(bound(deployed, tokens.contract, "totalSupply")))
    assert sum(row["balance"] for row in balances) == supply
    assert ZERO_ADDRESS not in {row["holder"] for row in balances}

    # Settings.
    settings = {(row["contract"], row["name"]): row["value"] for row in rows(engine, models.Setting, chain_id)}
    windows = escrow.windows()
    assert settings[("TradeEscrow", "windows")] == {
        "claimWindow": windows.claim_window,
        "answerWindow": windows.answer_window,
        "resolveWindow": windows.resolve_window,
        "maxAttestationAge": windows.max_attestation_age,
    }
    for kind in (1, 2, 3):
        assert settings[("TradeEscrow", f"threshold:{kind}")] == str(escrow.threshold(kind))
    for (_contract, name), value in settings.items():
        if name.startswith("tokenAllowed:"):
            token = to_checksum_address(name.split(":", 1)[1])
            assert value == bool(call(bound(deployed, escrow.contract, "tokenAllowed", token)))
    assert settings[("Receivables", "gracePeriod")] == receivables.grace_period()


_ORDER_KEYS = (
    "buyer",
    "supplier",
    "token",
    "amount",
    "ship_by",
    "deliver_by",
    "inspection_required",
    "terms_hash",
    "po_ref_hash",
    "nonce",
    "status",
    "created_at",
    "funded_at",
    "shipped_at",
    "delivered_at",
    "delivered_recorded_at",
    "inspected_at",
    "closed_at",
    "escrowed",
    "prepaid",
    "guarantor",
    "prepayment_fee",
    "paid_to_supplier",
    "refunded_to_buyer",
    "guarantee_claimed",
)
