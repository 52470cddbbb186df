"""Sign-in: ``POST /v1/auth/challenge`` then ``POST /v1/auth/token``; ``GET /v1/auth/me``."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.v1.auth import describe
from api.v1.deps import ERRORS, Me, Svc
from api.v1.schemas import ChallengeIn, ChallengeOut, PartyOut, SignInIn, TokenOut

router = APIRouter(prefix="/auth", tags=["auth"], responses=ERRORS)


@router.post("/challenge", response_model=ChallengeOut)
async def challenge(body: ChallengeIn, svc: Svc) -> ChallengeOut:
    found = await run_in_threadpool(svc.auth.challenge, body.address)
    return ChallengeOut(nonce=found.nonce, message=found.message, issuedAt=found.issued_at, expiresAt=found.expires_at)


@router.post(
    "/token",
    response_model=TokenOut,
)
async def token(body: SignInIn, svc: Svc) -> TokenOut:
    access, expires, party = await run_in_threadpool(svc.auth.sign_in, body.nonce, bytes.fromhex(body.signature[2:]))
    return TokenOut(accessToken=access, expiresAt=expires, party=PartyOut(**describe(party)))


@router.get("/me", response_model=PartyOut, responses=ERRORS)
async def me(party: Me) -> PartyOut:
    return PartyOut(**describe(party))
