"""An oracle service's link to a remote aggregator (``scf oracle aggregate``) over HTTP.

It is the ``AttestationSink`` of ``oracles.capture``: a network failure, a timeout or a 5xx
becomes ``AggregatorUnavailable`` (the capture keeps its signatures and can be retried); any
other refusal is a bug between two parts of this project and raises as such.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from ledger.domain.escrow import ErrorDeclaration
from oracles.aggregator import DeclarationReceipt, DeclarationStatus, Receipt, Rejection, Status, Submission
from oracles.errors import AggregatorUnavailable


class HttpAggregator:
    """``client`` talks to the aggregator (an ``httpx.Client`` with its base URL)."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    @classmethod
    def at(cls, url: str, timeout: float = 30.0) -> HttpAggregator:
        return cls(httpx.Client(base_url=url, timeout=timeout))

    def add(self, submissions: Sequence[Submission]) -> list[Receipt]:
        body = [
            {
                "attestation": {
                    "orderId": s.attestation.order_id,
                    "milestone": int(s.attestation.milestone),
                    "occurredAt": s.attestation.occurred_at,
                    "evidenceHash": "0x" + s.attestation.evidence_hash.hex(),
                },
                "oracle": s.oracle,
                "signature": "0x" + s.signature.hex(),
            }
            for s in submissions
        ]
        answers = self._post("/attestations", body)
        return [
            Receipt(
                key=a["key"],
                status=Status(a["status"]) if a.get("status") else None,
                signers=int(a.get("signers", 0)),
                threshold=int(a.get("threshold", 0)),
                rejection=Rejection(a["rejection"]) if a.get("rejection") else None,
                detail=a.get("detail", ""),
                tx_hash=a.get("tx_hash"),
                error=a.get("error"),
            )
            for a in answers
        ]

    def declare(self, declaration: ErrorDeclaration, oracle: str, signature: bytes) -> DeclarationReceipt:
        body = {
            "declaration": {
                "evidenceHash": "0x" + declaration.evidence_hash.hex(),
                "reasonHash": "0x" + declaration.reason_hash.hex(),
                "declaredAt": declaration.declared_at,
            },
            "oracle": oracle,
            "signature": "0x" + signature.hex(),
        }
        a = self._post("/declarations", body)
        return DeclarationReceipt(
            DeclarationStatus(a["status"]),
            a.get("detail", ""),
            signers=int(a.get("signers", 0)),
            threshold=int(a.get("threshold", 0)),
            tx_hash=a.get("tx_hash"),
            keys=tuple(a.get("keys", ())),
        )

    def _post(self, path: str, body: Any) -> Any:
        try:
            response = self.client.post(path, json=body)
        except httpx.HTTPError as exc:
            raise AggregatorUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500:
            raise AggregatorUnavailable(f"HTTP {response.status_code}: {response.text[:200]}")
        response.raise_for_status()
        return response.json()
