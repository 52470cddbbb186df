"""The shapes of the auditor's reads (``/v1/audit``) beyond the run itself (``schemas.AuditRunOut``).

Decoded arguments (``args``, ``errorArgs``) are JSON in the encoding of the indexer's ``events.args``
(``ledger.eth.refusals.abi_json``): addresses EIP-55, bytes ``0x`` hex, integers of ABI types wider
than 64 bits as decimal strings, structs as objects keyed by their components' names.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, StrictBool

from api.v1.schemas import AmountOut, Request, SafeInt, UintOut

# -- runs ------------------------------------------------------------------------------------------


class AuditRunIn(Request):
    """What a run does besides the replay (each adds a part to the run's report, as ``scf audit replay`` does)."""

    limits: StrictBool = Field(
        default=False,
        description="also recompute every credit limit published on CreditRegistry from the chain's logs, with "
        "the model its hash names (the report's `scores`, as `scf audit replay --scores` writes it)",
    )
    offers: StrictBool = Field(
        default=False,
        description="also recompute every signed offer in this API's store from its pricing record, the policy "
        "files this server holds and the chain (the report's `offers`, as `scf audit replay --offers` writes it)",
    )


class AuditRunSummaryOut(BaseModel):
    """A run in the list: its outcome in a line (``GET /v1/audit/runs/{id}`` has the whole report)."""

    id: str
    requestedBy: str
    state: str = Field(description="running, done or failed")
    createdAt: SafeInt
    finishedAt: SafeInt | None
    ok: bool | None = Field(description="the replay agrees with the chain (null until done)")
    toBlock: SafeInt | None = Field(description="the last block replayed (null until done)")
    digest: str | None = Field(description="the history digest (null until done)")
    mismatches: SafeInt | None = Field(description="how many mismatches the replay found (null until done)")
    seconds: float | None = Field(description="how long the replay took (null until done)")
    limitsOk: bool | None = Field(description="the recomputed limits agree (null: not asked for, or not done)")
    offersOk: bool | None = Field(description="the recomputed offers agree (null: not asked for, or not done)")
    error: str | None


class AuditRunPage(BaseModel):
    items: list[AuditRunSummaryOut] = Field(description="newest first")
    nextAfter: str | None = Field(description="pass as ?after= for the next page; null on the last page")


# -- decoded history of an order or a piece ----------------------------------------------------------


class HistoryEventOut(BaseModel):
    """One log of a transaction that touched the object, decoded by the indexer."""

    blockNumber: SafeInt
    blockTime: SafeInt
    txHash: str
    txIndex: SafeInt
    logIndex: SafeInt
    contract: str
    event: str
    args: dict[str, Any]
    about: bool = Field(
        description="the log names the object itself (or, for a piece, its receivable); false: another log of the "
        "same transaction (a token transfer, say)"
    )


class HistoryCallOut(BaseModel):
    """A mined, successful transaction that touched the object: the function it called, decoded from its calldata."""

    txHash: str
    blockNumber: SafeInt
    blockTime: SafeInt
    txIndex: SafeInt
    sender: str
    contract: str | None = Field(description="null: the transaction was sent to no ledger contract")
    function: str | None = Field(description="null: sent to no ledger contract; `0x…`: a selector no ABI names")
    args: dict[str, Any] | None = Field(description="null when the calldata does not decode")


class RefusedCallOut(BaseModel):
    """A mined transaction to a ledger contract that reverted, naming the object in its arguments."""

    txHash: str
    blockNumber: SafeInt
    blockTime: SafeInt | None = Field(description="null when the node no longer gives the block's header")
    txIndex: SafeInt
    sender: str
    contract: str
    function: str
    args: dict[str, Any] | None = Field(description="null when the calldata does not decode")
    error: str | None = Field(description="the custom error decoded from the revert data; null: unknown")
    errorArgs: dict[str, Any] | None


class HistoryOut(BaseModel):
    kind: Literal["order", "piece"]
    id: UintOut
    rootId: UintOut | None = Field(
        description="an order: its open-account receivable, if issued; a piece: its receivable (the tree's root)"
    )
    events: list[HistoryEventOut] = Field(description="chain order")
    calls: list[HistoryCallOut] = Field(description="chain order, one per transaction of `events`")
    refused: list[RefusedCallOut] = Field(description="chain order")
    refusedScope: str = Field(description="which refused calls this list can hold, and which it cannot")
    indexedBlock: SafeInt | None = Field(description="the indexer's cursor the events were read at")


# -- scores by supply tier -----------------------------------------------------------------------------


class ScoreOut(BaseModel):
    party: str
    roles: list[str]
    tier: SafeInt | None = Field(
        description="supply tier: the links of the party's longest chain of verified sales down to a core "
        "(0: a core; null: none verified)"
    )
    status: str
    score: SafeInt | None
    pdBps: SafeInt | None
    grade: str | None
    gradeCode: SafeInt
    limit: AmountOut


class ScoresOut(BaseModel):
    model: str = Field(description="the version hash of the model the decisions were made with")
    asOfBlock: SafeInt
    items: list[ScoreOut] = Field(description="every trading member (supplier or core) as of the block")
