"""Webhooks: a party registers a URL and the event types it wants, and every event of the feed (``api.v1.events``)
that the party may see is POSTed there, signed, retried with backoff until a 2xx, and logged.

* ``signing``: the ``SCF-Signature`` header (``t=<unix>,v1=<hex HMAC-SHA256 over "t." + body>``, Stripe's
  scheme), ``verify_signature`` for receivers, and the sealed secrets;
* ``book``: register (the secret answered once), list, delete, the delivery log; URL checks; the options;
* ``dispatcher``: queueing, sending, retries and the crash-safe log (``run_once``, ``run``), which ``scf
  serve`` runs beside its indexer.
"""

from __future__ import annotations

from api.v1.webhooks.book import DeliveryOptions, WebhookBook, check_url
from api.v1.webhooks.dispatcher import Dispatcher, Tick
from api.v1.webhooks.signing import SIGNATURE_HEADER, SecretBox, sign, verify_signature

__all__ = [
    "SIGNATURE_HEADER",
    "DeliveryOptions",
    "Dispatcher",
    "SecretBox",
    "Tick",
    "WebhookBook",
    "check_url",
    "sign",
    "verify_signature",
]
