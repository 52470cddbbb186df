"""``/v1/submissions``: signed transactions in, broadcast (202), and their status; token approvals."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from api.errors import InvalidField
from api.v1.deps import ERRORS, Me, Svc
from api.v1.idempotency import claim_of
from api.v1.routes.common import prepared
from api.v1.schemas import ApprovalIn, PreparedOut, SubmissionIn, SubmissionOut

router = APIRouter(tags=["submissions"], responses=ERRORS)

SubmissionId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")]


@router.post(
    "/submissions",
    status_code=202,
    response_model=SubmissionOut,
)
def submit(svc: Svc, party: Me, body: SubmissionIn, request: Request) -> JSONResponse:
    """A signed transaction for the API to check, simulate and broadcast (``rawTransaction``; the relayer tops
    the gas up), or one the party broadcast itself (``txHash``). With an Idempotency-Key, a retry after the
    first attempt's process died resumes it: one transaction, one top-up."""
    claim = claim_of(request.scope)
    resume = claim is not None and claim.resumed
    if (body.rawTransaction is None) == (body.txHash is None):
        field = "txHash" if body.txHash is not None else "rawTransaction"
        raise InvalidField(field, "send exactly one of rawTransaction (signed bytes) and txHash (already broadcast)")
    if body.rawTransaction is not None:
        submitted = svc.tx.submit(bytes.fromhex(body.rawTransaction[2:]), party, resume=resume)
    else:
        assert body.txHash is not None
        submitted = svc.tx.adopt(body.txHash, party, resume=resume)
    url = f"/v1/submissions/{submitted.id}"
    answer = SubmissionOut(
        id=submitted.id,
        txHash=submitted.tx_hash,
        contract=submitted.contract,
        function=submitted.function,
        party=party.address,
        status="pending",
        blockNumber=None,
        indexed=False,
        error=None,
        statusUrl=url,
    )
    return JSONResponse(answer.model_dump(), status_code=202, headers={"Location": url})


@router.get("/submissions/{submission_id}", response_model=SubmissionOut)
def submission(svc: Svc, party: Me, submission_id: SubmissionId) -> SubmissionOut:
    found = svc.tx.status(submission_id, party)
    return SubmissionOut(**found, statusUrl=f"/v1/submissions/{submission_id}")


@router.post("/token/approvals", response_model=PreparedOut)
def approve(svc: Svc, party: Me, body: ApprovalIn) -> PreparedOut:
    """An ERC-20 approval of a ledger contract: funding escrow, repaying and financing pull tokens."""
    spender = svc.tx.contracts[body.spender].address
    return prepared(svc, "approve", svc.tx.token.calls.approve(spender, body.amount), party.address)
