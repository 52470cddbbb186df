"""``/v1/banks``: what a bank's financing desk reads besides the inbox: its own exposure and an obligor's record.

* ``GET /banks/me/exposure?obligor=&seller=``: the calling bank's outstanding financing, in total
  and on one obligor (the root debtor of the pieces) and one seller (who sold them), as decimal
  strings of token units. Two parts, because a desk that prices one request after another must
  count what it has already promised, not only what was already taken:

  - ``financed``: the price the bank paid for each piece it bought (``financings`` in the index)
    whose receivable is not repaid and which is not claimed in full; a piece claimed in part
    counts for the share of its price not yet collected (rounded up, against the bank). A
    repaid root is no exposure: the money sits in the contract for the holder to claim.
  - ``offered``: the bank's offers still open: posted to the API, deadline not passed (by
    ``now``), on a piece the index does not show financed. Once the holder accepts, the piece
    shows financed and its price moves to ``financed``; both are read from the same index, so
    a price counts once (an offer accepted but not yet indexed still counts as offered).

  ``outstanding`` = ``financed`` + ``offered``: what the desk adds a new price to before it
  checks the published limit and the policy's concentration caps (the sums are
  ``FinancingBook.exposure``'s). ``now`` is the later of the API's clock and the indexed head's
  block time (``FinancingBook.now``, as the inbox's states), the time a desk prices tenors and
  deadlines from. Only a bank reads it (403 otherwise): its own, never another's.

* ``GET /banks/obligors/{party}``: an obligor's record as a debtor (PAYDEX-like timeliness over 12
  months, receivables defaulted in 12 months, receivables outstanding) as of the same final block
  as the credit decisions. A core enterprise is not scored (``NOT_SCORED``): a bank prices it from
  this record by its policy's ``core_pd`` (``scoring.pricing.core_pd_bps``). The decision already
  states the record in words; this is the same record as numbers, for a bank or an auditor, on the
  same terms as the decision (who may read a decision may read this; otherwise 404).

* ``GET /banks/me/portfolio``: the pieces the calling bank financed and still holds, each with its
  state (outstanding, overdue, defaulted, repaid, claimed), and their sums: the exposure by obligor,
  the maturity ladder, the counts by state and the return so far on the closed pieces
  (``api.v1.portfolio`` says what each means). ``now`` is the exposure's. The seller's supply tier is
  the credit scorer's (as of the decisions' final block), shown where the bank may read the seller's
  decision; where it cannot be derived (no model, no history) it is null and ``tiers.note`` says why.
  Only a bank reads it (403 otherwise).

Small response models live here rather than in ``api.v1.schemas``: nothing else answers them.
"""

from __future__ import annotations

from typing import Annotated

from eth_utils import to_checksum_address
from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from api.errors import ApiError, Forbidden, NotFound
from api.v1.auth import Party
from api.v1.deps import ERRORS, Me, Services, Svc
from api.v1.financing import TOTAL
from api.v1.portfolio import BUCKETS, Portfolio, State, Tally, read_portfolio, seller_tiers
from api.v1.schemas import AmountOut, SafeInt, UintOut
from scoring.pricing import debtor_record_of

router = APIRouter(prefix="/banks", tags=["banks"], responses=ERRORS)

ADDRESS = r"^0x[0-9a-fA-F]{40}$"
AddressQuery = Annotated[str | None, Query(pattern=ADDRESS)]
AddressPath = Annotated[str, Path(pattern=ADDRESS, description="the obligor's address")]


class AmountsOut(BaseModel):
    financed: AmountOut = Field(description="price paid for pieces bought and not yet repaid or claimed")
    offered: AmountOut = Field(description="price of this bank's open offers not yet taken")
    outstanding: AmountOut = Field(description="financed + offered")


class PartyExposureOut(AmountsOut):
    address: str


class ExposureOut(BaseModel):
    bank: str
    now: SafeInt = Field(description="UTC seconds: the later of the API's clock and the indexed head's block time")
    indexedBlock: SafeInt | None = Field(description="the index's cursor block the amounts were read at")
    total: AmountsOut
    obligor: PartyExposureOut | None = Field(description="on the obligor asked for (root debtor); null if none asked")
    seller: PartyExposureOut | None = Field(description="bought from the seller asked for; null if none asked")


class ObligorOut(BaseModel):
    party: str
    core: bool = Field(description="a core enterprise (not scored: priced from this record)")
    paydex12m: SafeInt | None = Field(description="PAYDEX-like 1..100 over 12 months (80: on time); null: none due")
    defaults12m: SafeInt = Field(description="its receivables that defaulted in 12 months")
    receivablesOutstanding: AmountOut = Field(description="token units it owes on receivables not yet repaid")
    model: str = Field(description="the scoring model's version hash (the same as the decision's)")
    asOfBlock: SafeInt


#: A signed amount of token units (a return may be a loss), decimal.
SignedAmountOut = Annotated[str, Field(pattern=r"^-?[0-9]+$", description="token units, decimal, may be negative")]


class FinancedPieceOut(BaseModel):
    pieceId: UintOut
    rootId: UintOut
    obligor: str = Field(description="the root debtor, who owes the receivable")
    seller: str = Field(description="who sold the piece to this bank")
    sellerTier: SafeInt | None = Field(
        description="the seller's supply tier (links in its longest chain of verified sales to a core) as of "
        "tiers.asOfBlock; null: not derivable (tiers.note says why) or not this bank's to read"
    )
    price: AmountOut = Field(description="what the bank paid for the piece")
    amount: AmountOut = Field(description="the piece's face amount")
    collected: AmountOut = Field(description="what the bank has claimed on the piece")
    claimable: AmountOut = Field(description="repaid on the receivable, the piece's share, not yet claimed")
    due: AmountOut = Field(description="what the obligor still owes on the piece")
    maturity: UintOut
    bucket: str | None = Field(description="its rung of the maturity ladder while open; null once repaid or claimed")
    defaultedAt: SafeInt = Field(description="UTC seconds the receivable was marked defaulted; 0: not defaulted")
    financedAt: SafeInt
    discountBps: UintOut = Field(description="the discount on face a year, as the contract computed it")
    nonce: UintOut = Field(description="the nonce of the offer the piece was financed on")
    state: State


class ObligorExposureOut(BaseModel):
    obligor: str
    pieces: SafeInt
    due: AmountOut = Field(description="what the obligor still owes on the open pieces")
    paid: AmountOut = Field(description="the price the bank paid for them")


class BucketOut(BaseModel):
    bucket: str = Field(description="overdue (maturity passed), 0-30, 31-60, 61-90, 91-180 or >180 days")
    pieces: SafeInt
    due: AmountOut


class StateCountsOut(BaseModel):
    outstanding: SafeInt
    overdue: SafeInt
    defaulted: SafeInt
    repaid: SafeInt
    claimed: SafeInt


class PortfolioTotalsOut(BaseModel):
    paid: AmountOut = Field(description="price paid for every piece held")
    amount: AmountOut = Field(description="their face amounts")
    collected: AmountOut = Field(description="claimed on them so far")
    claimable: AmountOut = Field(description="repaid and waiting to be claimed")
    due: AmountOut = Field(description="still owed on the open pieces (outstanding, overdue, defaulted)")


class ReturnOut(BaseModel):
    pieces: SafeInt = Field(description="closed pieces: their face amount collected in full")
    paid: AmountOut
    collected: AmountOut
    net: SignedAmountOut = Field(description="collected - paid on the closed pieces")


class TiersOut(BaseModel):
    asOfBlock: SafeInt | None = Field(description="the credit decisions' block the tiers were read at")
    note: str


class PortfolioOut(BaseModel):
    bank: str
    now: SafeInt = Field(description="UTC seconds: the later of the API's clock and the indexed head's block time")
    indexedBlock: SafeInt | None
    pieces: list[FinancedPieceOut] = Field(description="the pieces this bank financed and still holds, by id")
    notHeld: SafeInt = Field(description="pieces it financed and no longer holds as one piece (sold on or split)")
    counts: StateCountsOut
    byObligor: list[ObligorExposureOut] = Field(description="the open pieces by root debtor, largest due first")
    ladder: list[BucketOut] = Field(description="the open pieces' due by days to maturity, every bucket in order")
    totals: PortfolioTotalsOut
    returnSoFar: ReturnOut
    tiers: TiersOut


@router.get("/me/exposure", response_model=ExposureOut)
def exposure(svc: Svc, me: Me, obligor: AddressQuery = None, seller: AddressQuery = None) -> ExposureOut:
    """The calling bank's outstanding financing in total, on ``obligor`` and bought from ``seller``."""
    if not me.has("bank"):
        raise Forbidden(me.address, "read a bank's exposure", "only a bank finances pieces")
    now = svc.reads.financing.now()
    sums, indexed = svc.reads.financing.exposure(me.address, now)

    def party(prefix: str, address: str | None) -> PartyExposureOut | None:
        if address is None:
            return None
        checksummed = to_checksum_address(address)
        return PartyExposureOut(address=checksummed, **sums.out(f"{prefix}:{checksummed}"))

    return ExposureOut(
        bank=me.address,
        now=now,
        indexedBlock=indexed,
        total=AmountsOut(**sums.out(TOTAL)),
        obligor=party("o", obligor),
        seller=party("s", seller),
    )


@router.get("/obligors/{party}", response_model=ObligorOut)
async def obligor(svc: Svc, me: Me, party: AddressPath) -> ObligorOut:
    """``party``'s record as a debtor, as of the credit decisions' final block."""
    target = to_checksum_address(party)
    if not (me.auditor or me.has("bank")):
        raise NotFound("obligor", target)
    scored = await svc.credit.scored_async(None)
    i = scored.row(target)
    if i is None or not svc.credit.may_read_decision(me, target, scored):
        raise NotFound("obligor", target)
    table = scored.scorer.table
    record = debtor_record_of(table, i)
    return ObligorOut(
        party=target,
        core=table.is_core(i),
        paydex12m=record.paydex_12m,
        defaults12m=record.defaults_12m,
        receivablesOutstanding=str(record.receivables_outstanding),
        model=scored.scorer.version,
        asOfBlock=scored.as_of_block,
    )


@router.get("/me/portfolio", response_model=PortfolioOut)
async def portfolio(svc: Svc, me: Me) -> PortfolioOut:
    """The pieces the calling bank financed and holds, their states, exposure by obligor and maturity ladder."""
    if not me.has("bank"):
        raise Forbidden(me.address, "read a bank's portfolio", "only a bank finances pieces")
    found = read_portfolio(svc.engine, svc.chain_id, me.address, svc.reads.financing.now())
    tiers, about = await _tiers(svc, me, {h.seller for h in found.holdings})
    return portfolio_out(found, tiers, about)


async def _tiers(svc: Services, me: Party, sellers: set[str]) -> tuple[dict[str, int | None], TiersOut]:
    """The sellers' supply tiers from the credit scorer, those whose decision ``me`` may read."""
    if not sellers:
        return {}, TiersOut(asOfBlock=None, note="no pieces held: no seller to place")
    try:
        scored = await svc.credit.scored_async(None)
    except ApiError as exc:  # no model, no history yet: the portfolio stands without tiers
        return {}, TiersOut(asOfBlock=None, note=f"not derivable: {exc}")
    readable = [s for s in sellers if svc.credit.may_read_decision(me, s, scored)]
    note = "the seller's supply tier from the credit scorer's feature table (1: sells to a core)"
    return seller_tiers(scored.scorer.table, readable), TiersOut(asOfBlock=scored.as_of_block, note=note)


def _obligor(obligor: str, tally: Tally) -> ObligorExposureOut:
    return ObligorExposureOut(obligor=obligor, pieces=tally.pieces, due=str(tally.due), paid=str(tally.paid))


def portfolio_out(found: Portfolio, tiers: dict[str, int | None], about: TiersOut) -> PortfolioOut:
    closed = found.closed
    return PortfolioOut(
        bank=found.bank,
        now=found.now,
        indexedBlock=found.indexed_block,
        pieces=[
            FinancedPieceOut(
                pieceId=h.piece_id,
                rootId=h.root_id,
                obligor=h.obligor,
                seller=h.seller,
                sellerTier=tiers.get(h.seller),
                price=str(h.price),
                amount=str(h.amount),
                collected=str(h.claimed),
                claimable=str(h.claimable),
                due=str(h.due),
                maturity=h.maturity,
                bucket=found.bucket(h),
                defaultedAt=h.defaulted_at,
                financedAt=h.financed_at,
                discountBps=h.discount_bps,
                nonce=h.nonce,
                state=h.state,
            )
            for h in found.holdings
        ],
        notHeld=found.not_held,
        counts=StateCountsOut(**found.counts),
        byObligor=[_obligor(o, t) for o, t in found.by_obligor.items()],
        ladder=[
            BucketOut(bucket=name, pieces=found.ladder[name].pieces, due=str(found.ladder[name].due))
            for name, _ in BUCKETS
        ],
        totals=PortfolioTotalsOut(
            paid=str(found.total("price")),
            amount=str(found.total("amount")),
            collected=str(found.total("claimed")),
            claimable=str(found.total("claimable")),
            due=str(found.total("due")),  # a repaid piece owes nothing: the open ones' sum
        ),
        returnSoFar=ReturnOut(
            pieces=len(closed),
            paid=str(found.total("price", closed)),
            collected=str(found.total("claimed", closed)),
            net=str(found.returned),
        ),
        tiers=about,
    )
