"""Sign-in: ``POST /v1/auth/challenge`` then ``POST /v1/auth/token``; ``GET /v1/auth/me``; ``POST /v1/auth/logout``.

The two sign-in routes are rate-limited (``api.v1.ratelimit``): per client IP before anything
else, then per address asked for (challenge), per nonce and per challenged address (token).
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from api.v1.auth import Challenge, Party, describe
from api.v1.deps import ERRORS, Me, Services, Svc, TokenHolder
from api.v1.ratelimit import ChallengeLimit, Limiter, SignInLimit
from api.v1.schemas import ChallengeIn, ChallengeOut, PartyOut, SignInIn, TokenOut

router = APIRouter(prefix="/auth", tags=["auth"], responses=ERRORS)


def _limiter(request: Request) -> Limiter:
    limiter: Limiter = request.app.state.limiter
    return limiter


def _challenge(svc: Services, limiter: Limiter, address: str) -> Challenge:
    limiter.take("challenge-address", address, limiter.limits.challenge_per_address)
    return svc.auth.challenge(address)


def _sign_in(svc: Services, limiter: Limiter, nonce: str, signature: bytes) -> tuple[str, int, Party]:
    limiter.take("sign-in-nonce", nonce, limiter.limits.sign_in_per_nonce)
    address = svc.auth.challenged(nonce)
    if address is not None:  # an unknown nonce is refused next, at no cost to anyone's bucket
        limiter.take("sign-in-address", address, limiter.limits.sign_in_per_address)
    return svc.auth.sign_in(nonce, signature)


@router.post("/challenge", response_model=ChallengeOut)
async def challenge(body: ChallengeIn, svc: Svc, request: Request, _limit: ChallengeLimit) -> ChallengeOut:
    found = await run_in_threadpool(_challenge, svc, _limiter(request), body.address)
    return ChallengeOut(nonce=found.nonce, message=found.message, issuedAt=found.issued_at, expiresAt=found.expires_at)


@router.post("/token", response_model=TokenOut)
async def token(body: SignInIn, svc: Svc, request: Request, _limit: SignInLimit) -> TokenOut:
    signature = bytes.fromhex(body.signature[2:])
    access, expires, party = await run_in_threadpool(_sign_in, svc, _limiter(request), body.nonce, signature)
    return TokenOut(accessToken=access, expiresAt=expires, party=PartyOut(**describe(party)))


@router.get("/me", response_model=PartyOut, responses=ERRORS)
async def me(party: Me) -> PartyOut:
    return PartyOut(**describe(party))


@router.post("/logout", status_code=204, response_class=Response)
async def logout(svc: Svc, party: TokenHolder) -> Response:
    """End the presented token now: every worker refuses it from the next request on (until it would have
    expired). Needs only a valid token, so a suspended party or a silent node does not keep a token alive."""
    await run_in_threadpool(svc.tokens.revoke, party, int(time.time()))
    return Response(status_code=204)
