"""What routes depend on: the running services and the party a request acts as."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Engine

from api.v1.auth import Authenticator, Party, Tokens, current_party
from api.v1.reads import Reads
from api.v1.relayer import Transactions
from api.v1.settings import Settings
from ledger.chain import Chain


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
    extra: dict[str, Any]

    @property
    def chain_id(self) -> int:
        return self.chain.chain_id


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


Svc = Annotated[Services, Depends(services)]
Me = Annotated[Party, Depends(current_party)]

#: Error answers every authenticated route may give, for the OpenAPI document.
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "no token, or a forged or expired one"},
    403: {"description": "the party may not take this action"},
    404: {"description": "no such object for this party"},
}
