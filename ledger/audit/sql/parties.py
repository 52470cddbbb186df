"""Who the parties are, what they may borrow and what they hold: Membership's, CreditRegistry's
and the settlement token's tables against the models' state.

* ``parties``: each member's roles, oracle kind, status, KYC hash and admission, with the
  suspension reason from the events while suspended;
* ``credit_limits``: every (bank, party) pair ever published; a revoked pair reads zero (the
  contract deletes the record), with its revocation time, nonce and submitter from the events;
* ``balances``: the settlement token's balance of every holder; a zero balance equals no row.
"""

from __future__ import annotations

from ledger.audit.sql.rows import ZERO_ADDRESS, ZERO_HASH, Key, Row, hex_str
from ledger.audit.sql.tables import Tables
from ledger.audit.state import TOKEN
from ledger.index.sql import models
from ledger.model.membership import MemberStatus


def compare_parties(tables: Tables) -> None:
    expected: dict[Key, Row] = {}
    for party, record in tables.state.members.items():
        extra = tables.derived.parties.get(party, {})
        expected[(party,)] = {
            "roles": record.roles,
            "oracle_kind": int(record.oracle_kind),
            "status": MemberStatus(record.status).name,
            "kyc_hash": hex_str(record.kyc_hash),
            "admitted_at": record.admitted_at,
            "admitted_block": tables.derived.created.get(("parties", (party,)), 0),
            "suspension_reason_hash": extra.get("suspension_reason_hash")
            if record.status == MemberStatus.SUSPENDED
            else None,
        }
    tables.stateful(models.Party, ("address",), expected)


def compare_limits(tables: Tables) -> None:
    state = tables.state.limits
    expected: dict[Key, Row] = {}
    for pair in set(tables.result.models.limit_pairs) | set(tables.derived.limits) | set(state):
        extra = tables.derived.limits.get(pair, {"nonce": None, "submitter": None, "revoked_at": None})
        record = state.get(pair)
        if record is not None:
            limit, score, grade, model_hash, valid_until, published_at = record
            values: Row = {
                "limit": limit,
                "score": score,
                "grade": grade,
                "model_hash": hex_str(model_hash),
                "valid_until": valid_until,
                "published_at": published_at,
                "revoked": False,
                "revoked_at": None,
            }
        else:  # revoked: the contract deleted the record, every field reads zero
            values = {
                "limit": 0,
                "score": 0,
                "grade": 0,
                "model_hash": ZERO_HASH,
                "valid_until": 0,
                "published_at": 0,
                "revoked": True,
                "revoked_at": extra["revoked_at"],
            }
        expected[pair] = {**values, "nonce": extra["nonce"], "submitter": extra["submitter"]}
    tables.stateful(models.CreditLimit, ("bank", "party"), expected)


def compare_balances(tables: Tables) -> None:
    token = tables.deployment.addresses[TOKEN]
    expected = {
        (token, holder): {"balance": balance}
        for holder, balance in tables.result.models.token.balances().items()
        if holder != ZERO_ADDRESS
    }
    tables.stateful(models.Balance, ("token", "holder"), expected, zero_is_absent=lambda r: not r["balance"])
