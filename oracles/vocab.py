"""CBV 2.0 vocabulary values in their three spellings, reduced to one.

EPCIS 2.0 JSON-LD writes standard vocabulary as bare words (``shipping``), EPCIS 1.x and XML
as URNs (``urn:epcglobal:cbv:bizstep:shipping``) and the GS1 Web Vocabulary as web URIs
(``https://ref.gs1.org/cbv/BizStep-shipping``, or the compact ``cbv:BizStep-shipping``). They
mean the same thing, so everything downstream compares bare words only. A value in none of
those forms (a company's own ``https://example.com/bizstep/x``) is kept exactly as written:
it is a different vocabulary, not a spelling of a CBV word.
"""

from __future__ import annotations

from enum import Enum
from typing import Literal

#: How the simulator writes CBV values: bare word, URN, or GS1 web URI.
VocabularyStyle = Literal["bare", "urn", "web"]


class Vocabulary(Enum):
    """The CBV vocabularies this package reads; the value is the URN segment."""

    BIZ_STEP = "bizstep"
    DISPOSITION = "disp"
    BIZ_TRANSACTION_TYPE = "btt"
    SOURCE_DESTINATION_TYPE = "sdt"
    ERROR_REASON = "er"


# Web-vocabulary term prefix of each vocabulary (``https://ref.gs1.org/cbv/<prefix>-<word>``).
_WEB_PREFIX = {
    Vocabulary.BIZ_STEP: "BizStep",
    Vocabulary.DISPOSITION: "Disp",
    Vocabulary.BIZ_TRANSACTION_TYPE: "BTT",
    Vocabulary.SOURCE_DESTINATION_TYPE: "SDT",
    Vocabulary.ERROR_REASON: "ER",
}


def _spellings(vocabulary: Vocabulary) -> tuple[str, ...]:
    web = _WEB_PREFIX[vocabulary]
    return (
        f"urn:epcglobal:cbv:{vocabulary.value}:",
        f"https://ref.gs1.org/cbv/{web}-",
        f"http://ref.gs1.org/cbv/{web}-",
        f"cbv:{web}-",
    )


_PREFIXES = {vocabulary: _spellings(vocabulary) for vocabulary in Vocabulary}


def bare_word(value: str, vocabulary: Vocabulary) -> str:
    """The bare CBV word for ``value`` in any of its spellings; other values unchanged.

    The scheme and host parts match case-insensitively (URNs and hosts are), the word itself
    is kept as written (CBV words are case-sensitive).
    """
    lowered = value.lower()
    for prefix in _PREFIXES[vocabulary]:
        if lowered.startswith(prefix.lower()) and len(value) > len(prefix):
            return value[len(prefix) :]
    return value


def spell(word: str, vocabulary: Vocabulary, style: VocabularyStyle) -> str:
    """Write a bare CBV ``word`` in one ``style``: ``bare``, ``urn`` or ``web``.

    The inverse of :func:`bare_word`, used by the simulator and by tests that check that all
    spellings are read alike.
    """
    if style == "bare":
        return word
    if style == "urn":
        return f"urn:epcglobal:cbv:{vocabulary.value}:{word}"
    if style == "web":
        return f"https://ref.gs1.org/cbv/{_WEB_PREFIX[vocabulary]}-{word}"
    raise ValueError(f"unknown vocabulary style {style!r}; expected bare, urn or web")
