"""Projections of parties: Membership's members, SettlementToken balances, CreditRegistry limits.

A party row equals ``memberOf`` (roles, oracle kind, status, KYC hash), a balance row
``balanceOf`` of one token, and a limit row the bank's ``recordOf`` in CreditRegistry (a revoked
limit reads zero: the contract deletes the record).
"""

from __future__ import annotations

from ledger.index.projections.projector import Event, Page, Touch, on
from ledger.index.sql.types import ZERO_ADDRESS, ZERO_HASH

MEMBER_STATUS = ("NONE", "ACTIVE", "SUSPENDED")


# -- Membership --------------------------------------------------------------------------------


def _party(log: Event) -> list[Touch]:
    return [("parties", (log.args["party"],))]


@on("Membership", "MemberAdmitted", _party)
def _member_admitted(page: Page, log: Event) -> None:
    timestamp = log.timestamp
    a = log.args
    page.create(
        "parties",
        (a["party"],),
        {
            "roles": a["roles"],
            "oracle_kind": a["oracleKind"],
            "status": "ACTIVE",
            "kyc_hash": a["kycHash"],
            "admitted_at": timestamp,
            "admitted_block": log.block_number,
            "suspension_reason_hash": None,
        },
    )


@on("Membership", "MemberRolesChanged", _party)
def _member_roles(page: Page, log: Event) -> None:
    row = page.get("parties", (log.args["party"],))
    if row is not None:
        row["roles"], row["oracle_kind"] = log.args["roles"], log.args["oracleKind"]


@on("Membership", "MemberKycUpdated", _party)
def _member_kyc(page: Page, log: Event) -> None:
    row = page.get("parties", (log.args["party"],))
    if row is not None:
        row["kyc_hash"] = log.args["kycHash"]


@on("Membership", "MemberSuspended", _party)
def _member_suspended(page: Page, log: Event) -> None:
    row = page.get("parties", (log.args["party"],))
    if row is not None:
        row["status"], row["suspension_reason_hash"] = "SUSPENDED", log.args["reasonHash"]


@on("Membership", "MemberReinstated", _party)
def _member_reinstated(page: Page, log: Event) -> None:
    row = page.get("parties", (log.args["party"],))
    if row is not None:
        row["status"], row["suspension_reason_hash"] = "ACTIVE", None


# -- SettlementToken ---------------------------------------------------------------------------


def _transfer_holders(log: Event) -> list[Touch]:
    token = log.address
    return [("balances", (token, h)) for h in (log.args["from"], log.args["to"]) if h != ZERO_ADDRESS]


@on("SettlementToken", "Transfer", _transfer_holders)
def _token_transfer(page: Page, log: Event) -> None:
    token, value = log.address, log.args["value"]
    for holder, sign in ((log.args["from"], -1), (log.args["to"], 1)):
        if holder == ZERO_ADDRESS:
            continue
        row = page.get_or_create("balances", (token, holder), lambda: {"balance": 0})
        row["balance"] += sign * value


# -- CreditRegistry ----------------------------------------------------------------------------


def _limit(log: Event) -> list[Touch]:
    return [("limits", (log.args["bank"], log.args["party"]))]


@on("CreditRegistry", "LimitPublished", _limit)
def _limit_published(page: Page, log: Event) -> None:
    timestamp = log.timestamp
    a = log.args
    values = {
        "limit": a["limit"],
        "score": a["score"],
        "grade": a["grade"],
        "model_hash": a["modelHash"],
        "valid_until": a["validUntil"],
        "nonce": a["nonce"],
        "published_at": timestamp,
        "submitter": a["submitter"],
        "revoked": False,
        "revoked_at": None,
    }
    page.get_or_create("limits", (a["bank"], a["party"]), dict).update(values)


@on("CreditRegistry", "LimitRevoked", _limit)
def _limit_revoked(page: Page, log: Event) -> None:
    timestamp = log.timestamp
    # The contract deletes the record: every field reads zero.
    values = {
        "limit": 0,
        "score": 0,
        "grade": 0,
        "model_hash": ZERO_HASH,
        "valid_until": 0,
        "published_at": 0,
        "revoked": True,
        "revoked_at": timestamp,
    }
    row = page.get_or_create(
        "limits", (log.args["bank"], log.args["party"]), lambda: {"nonce": None, "submitter": None}
    )
    row.update(values)
