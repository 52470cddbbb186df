"""The one JSON-RPC transport of ``ledger``: requests out, the node's answers back in their order.

Whatever asks a node many things at once goes through ``JsonRpc``: the batch sender
(``ledger.eth.batch``), the replay's reads (``ledger.eth.rpc.Rpc``) and the indexer's
(``ledger.index.node.BlockReads``). Those are thin layers of domain reads over it, each with its
own error types; what they share is here:

* **Exchange.** ``batch`` sends ``(method, params)`` pairs as JSON-RPC batches over HTTP and
  returns the answers in request order, matched by id (a node may answer a batch in any order).
  An error answer is a value, ``RpcError``, not an exception: a caller that asked a thousand
  things decides what one failure means. Ids come from one counter per transport, reserved under
  a lock, so that threads sharing a transport never have the same id in flight.
* **Sessions.** A ``requests.Session`` per thread (a session is not thread-safe, and the replay
  reads from a pool of threads), the transport's ``timeout`` on every request. An exchange that
  fails (no connection, no answer in time, an answer that is not JSON) raises ``TransportFailed``.
* **Bodies.** A body is ``json.dumps`` of the requests, but the hot paths write their own:
  ``written`` takes each request's parameter list as JSON text (the replay's ``eth_call``
  batches), ``send_raw`` writes signed transactions straight into the body. Encoding dicts would
  cost more than the signing or the reading they carry (``bench/``).
* **Refused batches.** A node that answers a whole batch with one error object limits batch sizes
  or takes none. By default the batch is halved until single requests go through; a node that
  refuses even those is asked one request at a time from then on (``batches`` turns False).
  ``on_refusal="raise"`` raises ``BatchRefused`` instead: for callers that report the node, or
  fall back in their own way.
* **In process.** A provider that is not HTTP (the embedded eth-tester chain) is asked one
  request at a time through web3; an exception is that request's ``RpcError``, and carries the
  exception itself, so that a caller can tell a revert from anything else.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import requests
from web3 import HTTPProvider, Web3

from ledger.errors import LedgerError
from ledger.eth.chain import revert_data

#: Requests per batch, unless the caller says otherwise.
BATCH = 1_000


@dataclass(slots=True)
class RpcError:
    """A JSON-RPC error answer (or, in process, the exception web3 raised for the request).

    Not frozen: a frozen dataclass's ``__init__`` costs twice as much, and a batch can bring back
    a thousand of these (a chunk of transactions a node turns down).
    """

    message: str
    data: str | None = None
    #: The node's error object as it came, where there is one (for messages that quote it whole).
    error: Any = field(default=None, compare=False, repr=False)
    #: In process: the exception web3 raised. None over HTTP.
    exception: Exception | None = field(default=None, compare=False, repr=False)


#: The answer to a request that the node's answer left out (no item with its id).
NO_ANSWER = RpcError("no answer")


class TransportFailed(LedgerError):
    """An exchange failed: the node was not reached, did not answer in time, or answered no JSON."""

    def __init__(self, message: str, cause: Exception) -> None:
        super().__init__(message)
        self.cause = cause


class BatchRefused(LedgerError):
    """The node answered a whole batch with one object (``answer``): it limits batch sizes, or takes none."""

    def __init__(self, count: int, answer: Any) -> None:
        super().__init__(f"the node refused a batch of {count}: {answer}")
        self.count = count
        self.answer = answer


def as_int(value: Any) -> int:
    """A quantity: the node's ``0x`` hex, or the int web3 gives in process."""
    if isinstance(value, int):
        return value
    return int(str(value), 16)


def as_hex(value: Any) -> str:
    """Data or a hash as lowercase ``0x`` hex, from the node's text or web3's bytes."""
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    return str(value).lower()


def error_of(error: Any) -> RpcError:
    """The ``RpcError`` of a JSON-RPC error object."""
    if isinstance(error, dict):
        return RpcError(str(error.get("message", error)), error.get("data"), error)
    return RpcError(str(error), None, error)


class JsonRpc:
    """JSON-RPC batches to ``w3``'s node over HTTP; one request at a time through web3 for any other provider."""

    def __init__(self, w3: Web3, timeout: float, *, on_refusal: Literal["halve", "raise"] = "halve") -> None:
        self.w3 = w3
        self.timeout = timeout
        self.on_refusal = on_refusal
        provider = w3.provider
        #: None: one request at a time through web3 (not HTTP, or a node that takes no batches).
        self.url: str | None = str(provider.endpoint_uri) if isinstance(provider, HTTPProvider) else None
        self._local = threading.local()
        self._ids = 0
        self._ids_lock = threading.Lock()

    @property
    def batches(self) -> bool:
        """Whether requests go out in batches (False: one at a time through web3)."""
        return self.url is not None

    def call(self, method: str, params: list[Any]) -> Any:
        """One request's result; an error answer raises ``LedgerError``."""
        answer = self.batch([(method, params)])[0]
        if isinstance(answer, RpcError):
            raise LedgerError(f"{method} failed: {answer.message}")
        return answer

    def batch(self, calls: Sequence[tuple[str, list[Any]]], size: int = BATCH) -> list[Any]:
        """The answers to ``calls``, ``size`` per request, in call order; an error answer is an ``RpcError``."""
        if self.url is None:
            return [self._in_process(method, params) for method, params in calls]
        answers: list[Any] = []
        for start in range(0, len(calls), size):
            chunk = calls[start : start + size]
            first = self._reserve(len(chunk))
            body = json.dumps(
                [{"jsonrpc": "2.0", "id": first + i, "method": m, "params": p} for i, (m, p) in enumerate(chunk)]
            )
            answers.extend(self._exchange(body, first, len(chunk)))
        return answers

    def written(self, method: str, params: Sequence[str]) -> list[Any]:
        """``method`` once per entry of ``params``, each a parameter list already written as JSON text, in
        one request; the answers as ``batch``'s. (In process each is parsed back: web3 takes objects.)"""
        if self.url is None:
            return [self._in_process(method, json.loads(p)) for p in params]
        first = self._reserve(len(params))
        head = f'{{"jsonrpc":"2.0","method":"{method}","params":'
        body = ",".join([f'{head}{p},"id":{i}}}' for i, p in enumerate(params, first)])
        return self._exchange("[" + body + "]", first, len(params))

    def send_raw(self, raws: Sequence[bytes]) -> list[Any]:
        """``eth_sendRawTransaction`` for every raw transaction, as one request body.

        The body is written by hand, each transaction's hex straight into it: ``json.dumps`` of a
        list of dicts costs more than the signing it carries.
        """
        if self.url is None:
            return [self._in_process("eth_sendRawTransaction", ["0x" + raw.hex()]) for raw in raws]
        first = self._reserve(len(raws))
        body = ",".join(
            f'{{"jsonrpc":"2.0","id":{first + i},"method":"eth_sendRawTransaction","params":["0x{raw.hex()}"]}}'
            for i, raw in enumerate(raws)
        )
        return self._exchange("[" + body + "]", first, len(raws))

    # -- the exchange -----------------------------------------------------------------------

    def _reserve(self, count: int) -> int:
        """The first of ``count`` ids no other request of this transport uses."""
        with self._ids_lock:
            first = self._ids
            self._ids += count
        return first

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["Content-Type"] = "application/json"
            self._local.session = session
        return session

    def _exchange(self, body: str, first: int, count: int) -> list[Any]:
        """POST ``body`` (``count`` requests, ids from ``first``); the answers by id."""
        url = self.url
        if url is None:  # a refusal on the way (another half, another thread) went one at a time
            return [self._in_process(r["method"], r["params"]) for r in json.loads(body)]
        try:
            response = self._session().post(url, data=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise TransportFailed(f"JSON-RPC batch of {count} to {url} failed: {exc}", exc) from exc
        try:
            payload = response.json()
        except ValueError as exc:
            raise TransportFailed(f"{url} answered HTTP {response.status_code}: {response.text[:200]}", exc) from exc
        if not isinstance(payload, list):
            return self._refused(body, first, count, payload)
        answers: list[Any] = [NO_ANSWER] * count
        for item in payload:
            index = int(item.get("id", -1)) - first
            if 0 <= index < count:
                error = item.get("error")
                answers[index] = error_of(error) if error else item.get("result")
        return answers

    def _refused(self, body: str, first: int, count: int, payload: Any) -> list[Any]:
        """One object for the whole body: the node limits batch sizes, or takes no batches at all.
        Halve until single requests; a node that refuses those is asked one at a time for good."""
        if self.on_refusal == "raise":
            raise BatchRefused(count, payload)
        items = json.loads(body)
        if count > 1:
            middle = count // 2
            return self._exchange(json.dumps(items[:middle]), first, middle) + self._exchange(
                json.dumps(items[middle:]), first + middle, count - middle
            )
        self.url = None
        return [self._in_process(items[0]["method"], items[0]["params"])]

    def _in_process(self, method: str, params: list[Any]) -> Any:
        try:
            return self.w3.manager.request_blocking(method, params)  # type: ignore[arg-type]
        except Exception as exc:  # every failure of one request is that request's answer
            # Over HTTP the node's error object rides on the exception; eth-tester's revert
            # data sits in its cause chain.
            response = getattr(exc, "rpc_response", None)
            error = response.get("error") if isinstance(response, dict) else None
            data = error.get("data") if isinstance(error, dict) else None
            if not isinstance(data, str):
                data = revert_data(exc)
            return RpcError(f"{type(exc).__name__}: {exc}".splitlines()[0][:300], data, error, exc)
