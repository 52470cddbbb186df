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

Small response models live here rather than in ``api.v1.schemas``: nothing else answers them.
"""

from __future__ import annotations

from typing import Annotated

from eth_utils import to_checksum_address
from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from api.errors import Forbidden, NotFound
from api.v1.deps import ERRORS, Me, Svc
from api.v1.financing import TOTAL
from api.v1.schemas import AmountOut, SafeInt
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
