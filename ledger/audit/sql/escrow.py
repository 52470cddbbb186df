"""The escrow's tables against the models' state and the escrow's events.

* ``orders``: each order's terms, status, dates and amounts from the models, with the columns
  only events carry (the submitter, whether it was funded with a permit, the refund reason,
  whether the buyer confirmed receipt);
* ``disputes``: the models' dispute, with the contest and the resolution from the events;
* ``guarantees`` (exposure and shortfall from the models, prepaid, fee and claimed totals from
  the events) and ``pools`` (available and reserved): an all-zero row equals an absent one, as the
  contract's views cannot tell them apart;
* ``milestones``: one row per attested (order, milestone), against the ``MilestoneAttested`` event.
"""

from __future__ import annotations

from ledger.audit.sql.rows import ZERO_HASH, Key, Row, hex_str, row_key
from ledger.audit.sql.tables import Tables
from ledger.domain.escrow import OrderStatus
from ledger.index.sql import models


def compare_orders(tables: Tables) -> None:
    escrow = tables.result.models.escrow
    expected: dict[Key, Row] = {}
    for order_id, o in tables.state.escrow.orders.items():
        t, extra = o.terms, tables.derived.orders.get(order_id, {})
        expected[(order_id,)] = {
            "buyer": t.buyer,
            "supplier": t.supplier,
            "token": t.token,
            "amount": t.amount,
            "ship_by": t.ship_by,
            "deliver_by": t.deliver_by,
            "inspection_required": t.inspection_required,
            "terms_hash": hex_str(t.terms_hash),
            "po_ref_hash": hex_str(t.po_ref_hash),
            "nonce": t.nonce,
            "submitter": extra.get("submitter"),
            "open_account": escrow.is_open_account(order_id),
            "status": OrderStatus(o.status).name,
            "created_at": o.created_at,
            "funded_at": o.funded_at,
            "funded_via_permit": extra.get("funded_via_permit"),
            "shipped_at": o.shipped_at,
            "delivered_at": o.delivered_at,
            "delivered_recorded_at": o.delivered_recorded_at,
            "inspected_at": o.inspected_at,
            "closed_at": o.closed_at,
            "receipt_confirmed": bool(extra.get("receipt_confirmed", False)),
            "refund_reason": extra.get("refund_reason"),
            "escrowed": o.escrowed,
            "prepaid": o.prepaid,
            "guarantor": o.guarantor,
            "prepayment_fee": o.prepayment_fee,
            "paid_to_supplier": o.paid_to_supplier,
            "refunded_to_buyer": o.refunded_to_buyer,
            "guarantee_claimed": o.guarantee_claimed,
            "created_block": tables.derived.created.get(("orders", (order_id,)), 0),
        }
    tables.stateful(models.Order, ("order_id",), expected)


def compare_disputes(tables: Tables) -> None:
    state = tables.state.escrow.disputes
    expected: dict[Key, Row] = {}
    for order_id in sorted(set(state) | set(tables.derived.disputes)):
        d = state.get(order_id)
        extra = tables.derived.disputes.get(order_id, {})
        expected[(order_id,)] = {
            "buyer": extra.get("buyer"),
            "opened_at": d.opened_at if d else 0,
            "answer_by": d.answer_by if d else 0,
            "resolve_by": d.resolve_by if d else 0,
            "answered": d.answered if d else False,
            "reason_hash": hex_str(d.reason_hash) if d else ZERO_HASH,
            "response_hash": hex_str(d.response_hash) if d else ZERO_HASH,
            **{
                column: extra.get(column)
                for column in (
                    "contested_milestone",
                    "contested_evidence_hash",
                    "contest_reason_hash",
                    "contest_declared_at",
                    "contest_signers",
                    "resolved_at",
                    "resolution",
                    "to_buyer",
                    "to_supplier",
                    "from_pool",
                    "resolved_by",
                )
            },
            "opened_block": extra.get("opened_block", 0),
        }
    tables.stateful(models.Dispute, ("order_id",), expected)


def compare_guarantees_and_pools(tables: Tables) -> None:
    escrow = tables.result.models.escrow
    state = tables.state.escrow
    pairs = set(state.exposure) | set(state.shortfall) | set(tables.derived.guarantees)
    guarantees: dict[Key, Row] = {}
    for pair in pairs:
        sums = tables.derived.guarantees.get(pair, {"prepaid_total": 0, "fees_total": 0, "claimed_total": 0})
        guarantees[pair] = {
            "exposure": state.exposure.get(pair, 0),
            "shortfall": state.shortfall.get(pair, 0),
            **sums,
        }
    tables.stateful(
        models.Guarantee,
        ("guarantor", "supplier"),
        guarantees,
        zero_is_absent=lambda r: (
            not any(r[c] for c in ("exposure", "shortfall", "prepaid_total", "fees_total", "claimed_total"))
        ),
    )
    pools: dict[Key, Row] = {}
    for guarantor in set(state.pools) | tables.derived.pools:
        available, reserved = escrow.pool(guarantor)
        pools[(guarantor,)] = {"available": available, "reserved": reserved}
    tables.stateful(models.Pool, ("guarantor",), pools, zero_is_absent=lambda r: not (r["available"] or r["reserved"]))


def compare_milestones(tables: Tables) -> None:
    actual = {(row["order_id"], row["milestone"]): row for row in tables.rows(models.Milestone)}
    expected = tables.derived.milestones
    columns = (
        "name",
        "occurred_at",
        "recorded_at",
        "evidence_hash",
        "signers",
        "status_after",
        "block_number",
        "log_index",
        "tx_hash",
    )
    for key in sorted(set(expected) | set(actual)):
        want = expected.get(key)
        block = want[1] if want else int(actual[key]["block_number"])
        tables.compare_row(
            "milestones",
            row_key("milestones", ("order_id", "milestone"), key),
            block,
            want[0] if want else None,
            actual.get(key),
            columns,
        )
