"""What routes depend on: the running services and the party a request acts as."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Engine

from api.v1.auth import Authenticator, Party, Tokens, current_party, token_party
from api.v1.credit import CreditDesk
from api.v1.documents import DocumentVault
from api.v1.ratelimit import UploadLimit as UploadLimit  # for the upload route, with the other dependencies
from api.v1.reads import Reads
from api.v1.relayer import Transactions
from api.v1.schemas import ErrorOut
from api.v1.settings import Settings
from ledger.clients.escrow import TradeEscrowClient
from ledger.clients.receivables import ReceivablesClient
from ledger.eth.chain import Chain
from ledger.eth.proofs import ReceivableLayout


@dataclass
class Services:
    settings: Settings
    chain: Chain
    engine: Engine  # the indexer's projections (read-only here)
    store: Engine  # the API's own tables
    tokens: Tokens
    auth: Authenticator
    reads: Reads
    tx: Transactions
    credit: CreditDesk
    documents: DocumentVault
    escrow: TradeEscrowClient
    receivables: ReceivablesClient
    #: Where Receivables keeps each field (from the compiler's storage layout), for storage proofs.
    receivable_layout: ReceivableLayout

    @property
    def chain_id(self) -> int:
        return self.chain.chain_id


async def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


Svc = Annotated[Services, Depends(services)]
#: The signed-in party, checked against Membership as of the latest block (``api.v1.auth``).
Me = Annotated[Party, Depends(current_party)]
#: The party of a valid, unrevoked token, with no Membership check (logging out needs no more).
TokenHolder = Annotated[Party, Depends(token_party)]


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorOut, "description": description}


#: Error answers any route may give, for the OpenAPI document (422 keeps FastAPI's own shape).
ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error(
        "the body is not JSON every service takes (malformed_json: not UTF-8, nested too deep, NaN, a lone "
        "surrogate), naming its field, line and column"
    ),
    401: _error(
        "no token, or a forged, expired or revoked one, or the party is no longer an active member "
        "(WWW-Authenticate: Bearer)"
    ),
    403: _error("the party may not take this action"),
    404: _error("no such object for this party"),
    409: _error("the ledger's state refuses the request (a contract revert, a replayed challenge, a corrupt document)"),
    413: _error("the body is over the limit"),
    415: _error("the body is not JSON"),
    429: {
        **_error("too many requests of this kind"),
        "headers": {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}},
    },
    503: _error("the node or the database does not answer"),
}
AUTH_ERRORS = ERRORS
