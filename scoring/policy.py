"""A bank's pricing policy: the versioned file its financing desk prices every offer from.

The policy is to a price what the scorecard (``scoring.scorecard``) is to a limit: one JSON file,
its **hash** ``"0x" + keccak-256(canonical JSON)`` (sorted keys, no spaces, ASCII: exactly how
``Model.version`` is taken) recorded with every offer, so an auditor holding the file can check
which policy made a price and recompute it to the token unit (``scoring.pricing.recompute``).
Two files that differ in one field, or in the bank's own version label, have different hashes.

Every number is an integer: rates, spreads and PDs in basis points a year, tenors in days,
amounts in the settlement token's smallest unit as **decimal strings** (a uint256 does not fit a
JSON number everywhere). A field that is missing, of the wrong type (``true`` where a number
belongs, ``1.5``, ``NaN``), out of its bounds, or unknown (a misspelt field would otherwise be
ignored silently), and a key given twice, is a ``PolicyError`` naming the field.

Fields (``scoring/policies/dev-bank.json`` is a complete example):

``format`` 1, ``kind`` ``"scf-pricing-policy"``, ``name`` (the desk), ``version`` (the bank's own
label, e.g. ``"2030-01"``), ``notes`` (optional free text).

``token``: ``{"symbol": "dUSD", "decimals": 6}``: how amounts are written in words.

``products``: what the desk finances, a non-empty subset of ``"receivable"`` (buying a piece of a
receivable) and ``"pre-shipment"`` (financing an order before it ships, repaid from its payment).

``base_rate_curve``: points ``{"tenor_days", "rate_bps"}``, tenors strictly increasing, rates never
falling with tenor. The base rate of a tenor is the linear interpolation between the two points
around it, floored to a whole basis point, and flat beyond the first and last points. Rates may
not fall with tenor because an inverted curve would let a longer tenor get a better price than a
shorter one for the same piece, which the desk's rule "longer never pays more" forbids.

``lgd_bps``: loss given default, the share of face lost when the obligor defaults.

``obligor_spread`` and ``seller_spread``: PD-band tables (a bank's pricing grid):
bands ``{"max_pd_bps", "spread_bps"}`` with ``max_pd_bps`` strictly increasing and spreads never
falling; a PD takes the spread of the first band whose ``max_pd_bps`` is at least the PD. A table
is chosen over a formula because it reads like the grades (the shipped model's bands are PD
bands too) and because monotone by construction: a better PD can never fall into a dearer band.
The last band must cover the policy's maximum accepted PD of that party.

``core_pd``: how the PD of a core enterprise (not scored by the supplier scorecard; see
``scoring.decision``) is derived from its record as a debtor on the ledger, in basis points:
``base_pd_bps`` for a core that repays on time (PAYDEX at least ``on_time_paydex``, 80 being on
time), plus ``per_paydex_point_bps`` for every PAYDEX point below it, plus ``per_default_bps`` for
every receivable it let default in 12 months; ``no_history_pd_bps`` replaces the first two terms
when none of its receivables fell due in 12 months; capped at 10,000.

``unscored_supplier_pd_bps`` (optional): the PD at which the desk prices the debt of a supplier
with too little verified history for a score (the scorecard's ``INSUFFICIENT_HISTORY``), as
``core_pd.no_history_pd_bps`` prices a core with no record. Without it, such an obligor is declined.
A bank that sets it near the model's thin-file PD still answers the deep tiers in a new ledger's
first months, at a price with the unknown in it, instead of leaving them to whoever prices blind.

``max_obligor_pd_bps``, ``max_seller_pd_bps``: the worst PD the desk accepts (the seller's only
where the desk bears the seller's risk). ``advance_rate_bps``: the price never exceeds
face x advance rate (1..10,000). ``min_tenor_days``, ``max_tenor_days``: the tenors it finances.

``concentration``: ``{"max_per_obligor", "max_per_seller"}``, token amounts: the desk's outstanding
financing on one obligor, or bought from one seller, plus a new price may not exceed them. The
third cap, at the limit the bank published for the seller on chain, is not a policy field: the
published limit is an input of each request (``scoring.pricing``).

Bounds: rates and spreads at most 100,000 bps (1,000% a year), PDs and LGD at most 10,000,
tenors at most 3,650 days, at most 64 points or bands per table; so ``(1 + r)^t`` stays far
inside what exact decimal arithmetic handles in microseconds.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_utils import keccak

from scoring.errors import PolicyError
from scoring.scorecard import canonical

FORMAT = 1
KIND = "scf-pricing-policy"
RECEIVABLE, PRE_SHIPMENT = "receivable", "pre-shipment"
PRODUCTS = (RECEIVABLE, PRE_SHIPMENT)
BPS = 10_000
MAX_RATE_BPS = 100_000
MAX_TENOR_DAYS = 3_650
MAX_POINTS = 64
MAX_UINT256 = 2**256 - 1
#: The policy shipped for the dev bank.
DEV_BANK = Path(__file__).parent / "policies" / "dev-bank.json"

_DECIMAL = re.compile(r"0|[1-9][0-9]{0,77}")
_SYMBOL = re.compile(r"[A-Za-z][A-Za-z0-9]{0,15}")
_FIELDS = {
    "format",
    "kind",
    "name",
    "version",
    "notes",
    "token",
    "products",
    "base_rate_curve",
    "lgd_bps",
    "obligor_spread",
    "seller_spread",
    "core_pd",
    "max_obligor_pd_bps",
    "unscored_supplier_pd_bps",
    "max_seller_pd_bps",
    "advance_rate_bps",
    "min_tenor_days",
    "max_tenor_days",
    "concentration",
}
_OPTIONAL = {"notes", "unscored_supplier_pd_bps"}


@dataclass(frozen=True)
class CurvePoint:
    tenor_days: int
    rate_bps: int


@dataclass(frozen=True)
class Band:
    max_pd_bps: int
    spread_bps: int


@dataclass(frozen=True)
class CorePd:
    """How a core enterprise's PD follows from its debtor record (see the module's docstring)."""

    on_time_paydex: int
    base_pd_bps: int
    per_paydex_point_bps: int
    per_default_bps: int
    no_history_pd_bps: int


@dataclass(frozen=True)
class Policy:
    """A validated pricing policy; ``body`` is the file's JSON object, ``hash`` its version."""

    body: dict[str, Any] = field(repr=False)
    where: str
    name: str
    label: str
    symbol: str
    decimals: int
    products: tuple[str, ...]
    curve: tuple[CurvePoint, ...]
    lgd_bps: int
    obligor_spread: tuple[Band, ...]
    seller_spread: tuple[Band, ...]
    core_pd: CorePd
    max_obligor_pd_bps: int
    max_seller_pd_bps: int
    unscored_supplier_pd_bps: int | None
    advance_rate_bps: int
    min_tenor_days: int
    max_tenor_days: int
    max_per_obligor: int
    max_per_seller: int
    hash: str

    @property
    def raw(self) -> bytes:
        return canonical(self.body)

    def base_rate_bps(self, tenor_days: int) -> int:
        """The curve at ``tenor_days``: linear between points, floored; flat beyond the ends."""
        points = self.curve
        if tenor_days <= points[0].tenor_days:
            return points[0].rate_bps
        for low, high in itertools.pairwise(points):
            if tenor_days < high.tenor_days:
                span = high.tenor_days - low.tenor_days
                return low.rate_bps + (high.rate_bps - low.rate_bps) * (tenor_days - low.tenor_days) // span
        return points[-1].rate_bps

    @staticmethod
    def spread_bps(bands: Sequence[Band], pd_bps: int) -> int | None:
        """The spread of the first band that covers ``pd_bps``; None beyond the last band."""
        return next((b.spread_bps for b in bands if pd_bps <= b.max_pd_bps), None)

    def save(self, path: Path) -> str:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.raw + b"\n")
        return self.hash

    @classmethod
    def load(cls, path: Path | str = DEV_BANK) -> Policy:
        where = str(path)
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise PolicyError(where, "(file)", f"cannot read: {exc.strerror or exc}") from exc
        return cls.from_json(raw, where)

    @classmethod
    def from_json(cls, raw: bytes | str, where: str = "<memory>") -> Policy:
        try:
            body = json.loads(raw, object_pairs_hook=_no_duplicates)
        except _Duplicate as exc:
            raise PolicyError(where, exc.key, "given twice") from None
        except (ValueError, RecursionError) as exc:
            raise PolicyError(where, "(file)", f"not JSON: {exc}") from exc
        return cls.from_body(body, where)

    @classmethod
    def from_body(cls, body: Any, where: str = "<memory>") -> Policy:
        return _Reader(where).policy(body)


class _Duplicate(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Duplicate(key)
        out[key] = value
    return out


class _Reader:
    """Reads one policy body, raising ``PolicyError`` with the dotted path of the first bad field."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, path: str, detail: str) -> PolicyError:
        return PolicyError(self.where, path, detail)

    def obj(self, value: Any, path: str, fields: set[str], optional: set[str] | None = None) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"must be an object, not {_kind(value)}")
        for key in sorted(fields - set(value) - (optional or set())):
            raise self.fail(_join(path, key), "missing")
        for key in sorted(set(value) - fields):
            raise self.fail(_join(path, key), "unknown field")
        return value

    def int_(self, value: Any, path: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"must be an integer, not {_kind(value)}")
        if value < low:
            raise self.fail(path, f"{value} is negative" if value < 0 <= low else f"{value} is below {low}")
        if value > high:
            raise self.fail(path, f"{value} is above {high:,}")
        return value

    def amount(self, value: Any, path: str) -> int:
        if not isinstance(value, str) or not _DECIMAL.fullmatch(value):
            raise self.fail(path, f'must be a token amount as a decimal string (e.g. "1000000"), not {_kind(value)}')
        amount = int(value)
        if amount > MAX_UINT256:
            raise self.fail(path, "is above 2**256 - 1")
        return amount

    def text(self, value: Any, path: str, most: int) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, f"must be a non-empty string, not {_kind(value)}")
        if len(value) > most:
            raise self.fail(path, f"longer than {most} characters")
        return value

    def array(self, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list) or not value:
            raise self.fail(path, f"must be a non-empty array, not {_kind(value)}")
        if len(value) > MAX_POINTS:
            raise self.fail(path, f"more than {MAX_POINTS} entries")
        return value

    def curve(self, value: Any, path: str) -> tuple[CurvePoint, ...]:
        points: list[CurvePoint] = []
        for i, item in enumerate(self.array(value, path)):
            at = f"{path}[{i}]"
            entry = self.obj(item, at, {"tenor_days", "rate_bps"})
            point = CurvePoint(
                self.int_(entry["tenor_days"], f"{at}.tenor_days", 0, MAX_TENOR_DAYS),
                self.int_(entry["rate_bps"], f"{at}.rate_bps", 0, MAX_RATE_BPS),
            )
            if points and point.tenor_days <= points[-1].tenor_days:
                raise self.fail(f"{at}.tenor_days", "unsorted: tenors must increase strictly along the curve")
            if points and point.rate_bps < points[-1].rate_bps:
                raise self.fail(f"{at}.rate_bps", "falls with tenor: a longer tenor would be priced better")
            points.append(point)
        return tuple(points)

    def bands(self, value: Any, path: str, must_cover: int, cover_field: str) -> tuple[Band, ...]:
        bands: list[Band] = []
        for i, item in enumerate(self.array(value, path)):
            at = f"{path}[{i}]"
            entry = self.obj(item, at, {"max_pd_bps", "spread_bps"})
            band = Band(
                self.int_(entry["max_pd_bps"], f"{at}.max_pd_bps", 0, BPS),
                self.int_(entry["spread_bps"], f"{at}.spread_bps", 0, MAX_RATE_BPS),
            )
            if bands and band.max_pd_bps <= bands[-1].max_pd_bps:
                raise self.fail(f"{at}.max_pd_bps", "unsorted: band bounds must increase strictly")
            if bands and band.spread_bps < bands[-1].spread_bps:
                raise self.fail(f"{at}.spread_bps", "falls as PD rises: a worse PD would pay less")
            bands.append(band)
        if bands[-1].max_pd_bps < must_cover:
            raise self.fail(
                f"{path}[{len(bands) - 1}].max_pd_bps",
                f"the last band ends at {bands[-1].max_pd_bps} bps, below {cover_field} ({must_cover} bps)",
            )
        return tuple(bands)

    def policy(self, body: Any) -> Policy:
        if not isinstance(body, dict):
            raise self.fail("(file)", f"must be a JSON object, not {_kind(body)}")
        if body.get("kind") != KIND:
            raise self.fail("kind", f'must be "{KIND}", not {_kind(body.get("kind"))}')
        if body.get("format") != FORMAT or isinstance(body.get("format"), bool):
            raise self.fail("format", f"must be {FORMAT}, not {_kind(body.get('format'))}")
        self.obj(body, "", _FIELDS, _OPTIONAL)
        if "notes" in body and not isinstance(body["notes"], str):
            raise self.fail("notes", f"must be a string, not {_kind(body['notes'])}")
        token = self.obj(body["token"], "token", {"symbol", "decimals"})
        symbol = token["symbol"]
        if not isinstance(symbol, str) or not _SYMBOL.fullmatch(symbol):
            raise self.fail("token.symbol", f"must be 1-16 ASCII letters and digits, not {_kind(symbol)}")
        products = self.array(body["products"], "products")
        for i, product in enumerate(products):
            if product not in PRODUCTS:
                raise self.fail(f"products[{i}]", f"must be one of {', '.join(PRODUCTS)}, not {_kind(product)}")
        if len(set(products)) != len(products):
            raise self.fail("products", "lists a product twice")
        max_obligor = self.int_(body["max_obligor_pd_bps"], "max_obligor_pd_bps", 0, BPS)
        max_seller = self.int_(body["max_seller_pd_bps"], "max_seller_pd_bps", 0, BPS)
        core = self.obj(
            body["core_pd"],
            "core_pd",
            {"on_time_paydex", "base_pd_bps", "per_paydex_point_bps", "per_default_bps", "no_history_pd_bps"},
        )
        min_tenor = self.int_(body["min_tenor_days"], "min_tenor_days", 0, MAX_TENOR_DAYS)
        max_tenor = self.int_(body["max_tenor_days"], "max_tenor_days", 0, MAX_TENOR_DAYS)
        if max_tenor < min_tenor:
            raise self.fail("max_tenor_days", f"{max_tenor} is below min_tenor_days ({min_tenor})")
        concentration = self.obj(body["concentration"], "concentration", {"max_per_obligor", "max_per_seller"})
        policy = Policy(
            body=body,
            where=self.where,
            name=self.text(body["name"], "name", 200),
            label=self.text(body["version"], "version", 64),
            symbol=symbol,
            decimals=self.int_(token["decimals"], "token.decimals", 0, 36),
            products=tuple(products),
            curve=self.curve(body["base_rate_curve"], "base_rate_curve"),
            lgd_bps=self.int_(body["lgd_bps"], "lgd_bps", 0, BPS),
            obligor_spread=self.bands(body["obligor_spread"], "obligor_spread", max_obligor, "max_obligor_pd_bps"),
            seller_spread=self.bands(body["seller_spread"], "seller_spread", max_seller, "max_seller_pd_bps"),
            core_pd=CorePd(
                on_time_paydex=self.int_(core["on_time_paydex"], "core_pd.on_time_paydex", 1, 100),
                base_pd_bps=self.int_(core["base_pd_bps"], "core_pd.base_pd_bps", 0, BPS),
                per_paydex_point_bps=self.int_(core["per_paydex_point_bps"], "core_pd.per_paydex_point_bps", 0, BPS),
                per_default_bps=self.int_(core["per_default_bps"], "core_pd.per_default_bps", 0, BPS),
                no_history_pd_bps=self.int_(core["no_history_pd_bps"], "core_pd.no_history_pd_bps", 0, BPS),
            ),
            max_obligor_pd_bps=max_obligor,
            max_seller_pd_bps=max_seller,
            unscored_supplier_pd_bps=(
                self.int_(body["unscored_supplier_pd_bps"], "unscored_supplier_pd_bps", 0, BPS)
                if "unscored_supplier_pd_bps" in body
                else None
            ),
            advance_rate_bps=self.int_(body["advance_rate_bps"], "advance_rate_bps", 1, BPS),
            min_tenor_days=min_tenor,
            max_tenor_days=max_tenor,
            max_per_obligor=self.amount(concentration["max_per_obligor"], "concentration.max_per_obligor"),
            max_per_seller=self.amount(concentration["max_per_seller"], "concentration.max_per_seller"),
            hash="0x" + keccak(canonical(body)).hex(),
        )
        return policy


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: Any) -> str:
    """A value as an error message shows it: short, and saying what it is when it is not a number."""
    if value is None:
        return "missing"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, float):
        return f"a non-integer ({value!r})"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return repr(value)[:40]
