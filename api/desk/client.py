"""The desk's side of the HTTP API: a bank signed in with its own key, reading and posting what a desk needs.

The desk is a client like any bank's own program: it speaks HTTP to ``/v1`` (``httpx``), signs the
API's sign-in challenge with the bank's key (EIP-191, after checking that the challenge names this
bank), and signs offers itself; no key ever goes to the server. A token lasts 15 minutes: the
client signs in again a minute before it expires, and once more on a 401 (a token revoked or a
server restarted with another secret), then repeats the request once.

Every failure is one of two errors (``api.desk.errors``): ``ApiUnavailable`` when the API did not
answer, answered 5xx, or 429 (with its ``Retry-After``), which the desk backs off from, and
``ApiRefused`` for any other 4xx, with the error code and the field the API named.

A test hands in its own ``httpx.Client`` (FastAPI's ``TestClient`` is one) to run the desk against
an app in process; otherwise the client owns one with the given base URL and timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from api.desk.errors import ApiRefused, ApiUnavailable, SignInFailed

#: Sign in again this long before the token expires, so a request never goes out with a stale one.
REFRESH_MARGIN = 60
#: Open requests asked for per page of the inbox.
INBOX_PAGE = 100


class BankApi:
    """The ``/v1`` API as one bank sees it (``account`` signs in); raises ``ApiUnavailable`` or ``ApiRefused``."""

    def __init__(
        self,
        base: str,
        account: LocalAccount,
        *,
        http: httpx.Client | None = None,
        timeout: float = 15.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base = base.rstrip("/")
        self.account = account
        self.clock = clock
        self._owned = http is None
        self.http = http if http is not None else httpx.Client(base_url=self.base, timeout=timeout)
        self._token: str | None = None
        self._expires = 0

    @property
    def address(self) -> str:
        return str(self.account.address)

    def close(self) -> None:
        if self._owned:
            self.http.close()

    # -- transport ---------------------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            answer = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:  # refused, reset, timed out, DNS: the API is not there now
            raise ApiUnavailable(self.base, f"{type(exc).__name__}: {exc or 'no answer'}") from exc
        if answer.status_code == 429 or answer.status_code >= 500:
            raise ApiUnavailable(self.base, _summary(method, path, answer), _retry_after(answer))
        return answer

    def sign_in(self) -> None:
        """Answer the API's challenge with the bank's key; keeps the token for the requests that follow."""
        challenge = self._send("POST", "/v1/auth/challenge", json={"address": self.address})
        if challenge.status_code != 200:
            raise SignInFailed(self.address, _summary("POST", "/v1/auth/challenge", challenge))
        body = _json(challenge)
        message = body.get("message") if isinstance(body, dict) else None
        # Sign only a challenge for this account: a signature over another text could be replayed elsewhere.
        if not isinstance(message, str) or f"\n{self.address}\n" not in message:
            raise SignInFailed(self.address, "the API's challenge names another account: not signed")
        signature = Account.sign_message(encode_defunct(text=message), self.account.key).signature
        answer = self._send(
            "POST", "/v1/auth/token", json={"nonce": body.get("nonce"), "signature": "0x" + bytes(signature).hex()}
        )
        if answer.status_code != 200:
            raise SignInFailed(self.address, _summary("POST", "/v1/auth/token", answer))
        token = _json(answer)
        self._token = str(token["accessToken"])
        self._expires = int(token["expiresAt"])

    def _headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        if self._token is None or self.clock() >= self._expires - REFRESH_MARGIN:
            self.sign_in()
        return {"Authorization": f"Bearer {self._token}", **(extra or {})}

    def request(
        self, method: str, path: str, *, headers: Mapping[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        """``method path`` as the bank: 2xx and 404 come back (a 404 is an answer: "not for you"), other 4xx raise."""
        answer = self._send(method, path, headers=self._headers(headers), **kwargs)
        if answer.status_code == 401:  # revoked, or a server restarted with another secret: sign in once more
            self._token = None
            answer = self._send(method, path, headers=self._headers(headers), **kwargs)
        if answer.status_code >= 400 and answer.status_code != 404:
            raise _refused(method, path, answer)
        return answer

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """The JSON answer of ``GET path``, or None for a 404."""
        answer = self.request("GET", path, params=dict(params or {}))
        return None if answer.status_code == 404 else _json(answer)

    def found(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """The JSON answer of ``GET path``; a 404 is ``ApiRefused``."""
        answer = self.request("GET", path, params=dict(params or {}))
        if answer.status_code == 404:
            raise _refused("GET", path, answer)
        return _json(answer)

    def post(self, path: str, body: Any, *, idempotency_key: str | None = None) -> Any:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        answer = self.request("POST", path, json=body, headers=headers)
        if answer.status_code == 404:
            raise _refused("POST", path, answer)
        return _json(answer)

    # -- what a desk reads and posts -----------------------------------------------------------

    def health(self) -> dict[str, Any]:
        answer = self._send("GET", "/v1/health")
        if answer.status_code != 200:
            raise _refused("GET", "/v1/health", answer)
        found: dict[str, Any] = _json(answer)
        return found

    def indexed_block(self) -> int | None:
        """The API's indexed head (``/v1/health``'s ``indexedBlock``; None before its first block)."""
        found = self.health().get("indexedBlock")
        return None if found is None else int(found)

    def inbox(self) -> Iterator[dict[str, Any]]:
        """Every open financing request this bank may answer (to it, or to every bank), page by page."""
        return self._open("/v1/financing-requests")

    def prepayment_inbox(self) -> Iterator[dict[str, Any]]:
        """Every open pre-payment request this bank may answer (to it, or to every bank), page by page; none from
        an API without pre-shipment finance (its inbox answers 404), whose financing inbox the desk still follows."""
        return self._open("/v1/prepayment-requests", optional=True)

    def _open(self, path: str, *, optional: bool = False) -> Iterator[dict[str, Any]]:
        after: Any = None
        while True:
            params: dict[str, Any] = {"state": "open", "limit": INBOX_PAGE}
            if after is not None:
                params["after"] = after
            page = self.get(path, params) if optional else self.found(path, params)
            if page is None:
                return
            yield from page.get("items") or []
            after = page.get("nextAfter")
            if after is None or not page.get("items"):
                return

    def piece(self, piece_id: int | str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.get(f"/v1/receivables/pieces/{piece_id}")
        return found

    def receivable(self, root_id: int | str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.get(f"/v1/receivables/{root_id}")
        return found

    def decision(self, party: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.get(f"/v1/credit/decisions/{party}")
        return found

    def obligor(self, party: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.get(f"/v1/banks/obligors/{party}")
        return found

    def limits(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.found("/v1/credit/limits")
        return found

    def exposure(self, obligor: str, seller: str) -> dict[str, Any]:
        found: dict[str, Any] = self.found("/v1/banks/me/exposure", {"obligor": obligor, "seller": seller})
        return found

    # -- offers and declines: the same calls on a piece's offers and on a pre-payment request's -------------

    def _typed_data(self, offers: str, terms: Mapping[str, Any]) -> dict[str, Any]:
        """The typed data the API serves for ``terms`` at ``offers`` (a collection of offers), for this bank to sign."""
        found: dict[str, Any] = self.post(f"{offers}/typed-data", dict(terms))
        return found

    def _post_offer(self, offers: str, body: Mapping[str, Any], idempotency_key: str) -> dict[str, Any]:
        found: dict[str, Any] = self.post(offers, dict(body), idempotency_key=idempotency_key)
        return found

    def _decline(self, request: str, reasons: list[dict[str, str]]) -> dict[str, Any]:
        found: dict[str, Any] = self.post(f"{request}/decline", {"reasons": reasons})
        return found

    def offer_typed_data(self, piece_id: int, terms: Mapping[str, Any]) -> dict[str, Any]:
        return self._typed_data(f"/v1/receivables/pieces/{piece_id}/offers", terms)

    def post_offer(self, piece_id: int, body: Mapping[str, Any], idempotency_key: str) -> dict[str, Any]:
        return self._post_offer(f"/v1/receivables/pieces/{piece_id}/offers", body, idempotency_key)

    def decline(self, request_id: str, reasons: list[dict[str, str]]) -> dict[str, Any]:
        """Tell the holder why this bank makes no offer (``POST /v1/financing-requests/{id}/decline``); a 404 (not
        shown to this bank) and a 409 (no longer open to it) are ``ApiRefused``."""
        return self._decline(f"/v1/financing-requests/{request_id}", reasons)

    def offers(self, piece_id: int) -> list[dict[str, Any]] | None:
        """The offers on the piece this bank sees (its own); None when the piece is no longer shown to it."""
        found: list[dict[str, Any]] | None = self.get(f"/v1/receivables/pieces/{piece_id}/offers")
        return found

    # -- pre-shipment finance (``/v1/prepayment-requests``) -----------------------------------------

    def prepayment_request(self, request_id: str) -> dict[str, Any] | None:
        """The request with its order as now indexed; None when it is no longer shown to this bank."""
        found: dict[str, Any] | None = self.get(f"/v1/prepayment-requests/{request_id}")
        return found

    def pool(self, supplier: str) -> dict[str, Any]:
        """This bank's guarantee pool, what its open offers could draw on it, and its exposure to ``supplier``."""
        found: dict[str, Any] = self.found("/v1/banks/me/pool", {"supplier": supplier})
        return found

    def prepayment_offer_typed_data(self, request_id: str, terms: Mapping[str, Any]) -> dict[str, Any]:
        return self._typed_data(f"/v1/prepayment-requests/{request_id}/offers", terms)

    def post_prepayment_offer(self, request_id: str, body: Mapping[str, Any], idempotency_key: str) -> dict[str, Any]:
        return self._post_offer(f"/v1/prepayment-requests/{request_id}/offers", body, idempotency_key)

    def decline_prepayment(self, request_id: str, reasons: list[dict[str, str]]) -> dict[str, Any]:
        """Tell the supplier why this bank backs no pre-payment; 404 and 409 are ``ApiRefused`` (as ``decline``)."""
        return self._decline(f"/v1/prepayment-requests/{request_id}", reasons)

    def prepayment_offers(self, request_id: str) -> list[dict[str, Any]] | None:
        """This bank's offers on the request; None when the request is no longer shown to it."""
        found: list[dict[str, Any]] | None = self.get(f"/v1/prepayment-requests/{request_id}/offers")
        return found


def _json(answer: httpx.Response) -> Any:
    try:
        return answer.json()
    except ValueError as exc:
        raise ApiUnavailable(str(answer.request.url), f"{answer.status_code} with a body that is not JSON") from exc


def _summary(method: str, path: str, answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        body = None
    code, detail = _problem(body)
    return f"{method} {path}: {answer.status_code} {code or ''} {detail or answer.text[:200]}".strip()


def _problem(body: Any) -> tuple[str | None, str | None]:
    if not isinstance(body, dict):
        return None, None
    detail = body.get("detail")
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        detail = detail[0].get("msg")
    return body.get("error"), None if detail is None else str(detail)


def _refused(method: str, path: str, answer: httpx.Response) -> ApiRefused:
    try:
        body = answer.json()
    except ValueError:
        body = None
    code, detail = _problem(body)
    field = body.get("field") if isinstance(body, dict) else None
    return ApiRefused(
        method, path, answer.status_code, code or "error", detail or answer.text[:300], field if field else None
    )


def _retry_after(answer: httpx.Response) -> float | None:
    value = answer.headers.get("Retry-After")
    try:
        return None if value is None else max(0.0, float(value))
    except ValueError:
        return None
