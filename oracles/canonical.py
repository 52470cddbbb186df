"""The fast path of :mod:`oracles.hashing`: the pinned library's pre-hash string, computed cheaply.

``epcis-event-hash-generator`` 1.9.3 turns an event into its pre-hash string in four steps;
this module does each of them again, faster, and gives up (:class:`Unsupported`) on any
input where it cannot vouch for the very same result, so that the caller runs the library
instead. It never decides that an event cannot be hashed: every failure goes to the library,
which then raises (or not) exactly as it always did.

1. **Bare words** (``json_to_py._bare_string_pre_preocessing``). The library JSON-LD-expands
   the document with PyLD, keeps every string of the expansion that starts with
   ``https://ref.gs1.org/cbv`` or ``https://gs1.org/voc`` (call that set *E*), and replaces
   each string value ``v`` of the event by the single member of *E* that ends with ``-v`` or
   ``/v`` (none or several: ``v`` stays). Nearly all the cost is the expansion, and nearly
   all of that is PyLD processing the 20 kB EPCIS context again on every call. Here PyLD
   processes each distinct ``@context`` once (:class:`PreparedContext`, cached by its JSON
   text) and each scoped context once per active context; then :func:`expanded_cbv_values`
   walks the event along PyLD's expansion algorithm (``_expand``, ``_expand_object``,
   ``_expand_value``, ``_expand_iri``), reading PyLD's own processed term definitions, but
   only to collect *E*, without building the expanded document. Whatever that walk does not
   model raises :class:`Unsupported`: any ``@``-key in the event, keys expanding to a
   keyword other than ``@id``/``@type``, two ``@id`` keys in one object, ``@id``/``@type``
   values that are not strings, type-scoped contexts, ``@vocab``/``@base``/``@language`` in
   a context, term definitions with containers other than ``@set`` or with reverse,
   language, index or nest entries, values that are not plain JSON. That covers every place
   where PyLD's expansion of such an event can raise; what it drops silently (keys that do
   not expand to an absolute IRI, ``null`` values) the walk drops too.
2. **The simple tree** (``json_to_py._json_to_py``): a port that reads namespaces from an
   argument instead of the library's module global and applies the replacement of step 1
   on the way (the library replaces in place, then converts).
3. **XML/JSON model corrections** (``json_xml_model_mismatch_correction``): a port that
   returns early for leaves (nothing to correct below them), calling the library's own
   ``_correct_xml_vs_js_structure_mismatch``.
4. **The pre-hash string** (``hash_generator.derive_prehashes_from_events``): a port without
   the defensive ``copy.deepcopy`` (the tree is ours), with the value canonicalisation
   (``_canonize_value``: GS1 Digital Link, numbers, CBV URNs) memoised, and with the
   timestamps of the usual ISO 8601 form (``2024-03-01T09:30:00.250+08:00``) converted
   without ``dateutil``; any other form goes to the library's own ``_fix_time_stamp_format``.
   Anything that raises on the way makes the caller run the library, which then fails (or
   not) in its own words.

Every step is checked against the library on all GS1 examples, the reference vectors,
simulator documents, targeted edge cases and randomly permuted and edited events
(``tests/oracles/test_hash_equivalence.py``).
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from epcis_event_hash_generator import PROP_ORDER, hash_generator, json_xml_model_mismatch_correction
from pyld import jsonld
from pyld.context_resolver import ContextResolver


class Unsupported(Exception):
    """This input is outside what the fast path reproduces; the library must hash it."""


# --- JSON-LD: the expanded CBV values (step 1) ------------------------------------------------

_KEYWORDS = frozenset(jsonld.KEYWORDS)
_KEYWORD_LIKE = re.compile(jsonld.KEYWORD_PATTERN)
_ABSOLUTE_IRI = re.compile(r"^([A-Za-z][A-Za-z0-9+-.]*|_):[^\s]*$")  # PyLD's _is_absolute_iri
_CBV_PREFIXES = ("https://ref.gs1.org/cbv", "https://gs1.org/voc")  # what the library keeps
_PLAIN_SCALARS = (str, int, float, bool)
#: Entries of a processed term definition that the walk understands.
_TERM_ENTRIES = frozenset(
    {"@id", "@type", "@context", "@container", "reverse", "protected", "_prefix", "_term_has_colon"}
)
#: Entries of a processed active context that the walk understands (no @vocab, @base, ...).
_CONTEXT_ENTRIES = frozenset({"mappings", "processingMode", "_uuid", "@version"})
#: The document the library expands around an event (without its @context).
_WRAPPER_TERMS = ("type", "EPCISDocument", "epcisBody", "eventList")


class _Term:
    """A processed term definition, reduced to what the walk needs."""

    __slots__ = ("container_ok", "iri", "scoped", "type")

    def __init__(self, mapping: Mapping[str, Any]) -> None:
        if not mapping.keys() <= _TERM_ENTRIES or mapping.get("reverse") or "@id" not in mapping:
            raise Unsupported("term definition")
        container = mapping.get("@container")
        self.container_ok = container is None or list(container) == ["@set"]
        self.iri: Any = mapping["@id"]
        self.type: Any = mapping.get("@type")
        self.scoped: Any = mapping.get("@context")
        if self.type == "@json":
            raise Unsupported("@json term")


class _Active:
    """A PyLD active context and what the walk has looked up in it."""

    __slots__ = ("ctx", "keys", "mappings", "relative", "scoped", "terms")

    def __init__(self, ctx: Any) -> None:
        if not isinstance(ctx, Mapping) or not ctx.keys() <= _CONTEXT_ENTRIES or "previousContext" in ctx:
            raise Unsupported("active context features")
        self.ctx = ctx
        self.mappings: Mapping[str, Any] = ctx["mappings"]
        self.terms: dict[str, _Term] = {}
        self.keys: dict[str, tuple[Any, _Term | None, bool]] = {}
        self.scoped: dict[int, tuple[Any, _Active | None]] = {}
        self.relative: dict[tuple[str, bool], Any] = {}  # PyLD's expansion of relative IRIs, see expand_relative

    def term(self, key: str) -> _Term | None:
        """The term definition of ``key`` (``None``: not a term). Unsupported shapes raise.

        Only terms are remembered (a bounded set); other strings are looked up each time.
        """
        term = self.terms.get(key)
        if term is not None:
            return term
        mapping = self.mappings.get(key, _MISSING)
        if mapping is _MISSING:
            return None
        if mapping is None:  # explicitly null term: PyLD drops it; rare, let the library do it
            raise Unsupported("null term")
        term = self.terms[key] = _Term(mapping)
        return term

    def key(self, prepared: PreparedContext, key: str) -> tuple[Any, _Term | None, bool]:
        """``key`` as a property: its expansion, its term, whether PyLD keeps it (an absolute
        IRI or a keyword). Remembered for terms only."""
        info = self.keys.get(key)
        if info is not None:
            return info
        if key[:1] == "@":
            raise Unsupported("keyword key")
        term = self.term(key)
        expanded = term.iri if term is not None else _expand_iri(prepared, self, key, vocab=True, base=False)
        kept = expanded is not None and (expanded in _KEYWORDS or _ABSOLUTE_IRI.match(expanded) is not None)
        info = (expanded, term, kept)
        if term is not None:
            self.keys[key] = info
        return info


_MISSING = object()
_RELATIVE_MEMO = 1 << 14


class PreparedContext:
    """One document ``@context``: PyLD's processed active context, and the scoped ones on demand.

    Built once per distinct context (see :class:`ContextCache`). ``active`` is ``None`` when
    the fast path cannot be used with this context at all (PyLD refused it, a remote context
    is not bundled, or it changes the terms the library's document wrapper relies on).
    """

    def __init__(
        self, context: Any, namespaces: Mapping[str, str], loader: Callable[..., Any], lock: threading.Lock
    ) -> None:
        """Process ``context`` (a private copy: PyLD keeps references into it). The caller
        holds ``lock``, which later guards PyLD when a scoped context is first needed."""
        self._lock = lock
        self.namespaces = namespaces
        self._processor = jsonld.JsonLdProcessor()
        self._options = {
            "isFrame": False,
            "keepFreeFloatingNodes": False,
            "documentLoader": loader,
            "contextResolver": ContextResolver({}, loader),
            "extractAllScripts": False,
            "processingMode": "json-ld-1.1",
            "base": "",
        }
        self.active: _Active | None = None
        self.wrapper_values: frozenset[str] = frozenset()
        try:
            if isinstance(context, dict) and len(context) == 1 and "@context" in context:
                raise Unsupported("keyword redefinition")  # PyLD raises for this document context
            initial = self._processor._get_initial_context(self._options)
            active = _Active(self._processor._process_context(initial, context, self._options))
            self.wrapper_values = self._check_wrapper(active)
            self.active = active
        except Exception:
            self.active = None

    @staticmethod
    def _check_wrapper(active: _Active) -> frozenset[str]:
        """The library wraps the event in ``{"type": "EPCISDocument", "epcisBody": {"eventList":
        [event]}}``; the walk starts at the event, so those terms must be the plain EPCIS ones."""
        doc_type, document, body, events = (active.term(name) for name in _WRAPPER_TERMS)
        if doc_type is None or doc_type.iri != "@type" or document is None or document.scoped is not None:
            raise Unsupported("document type")
        for term in (body, events):
            if term is None or term.scoped is not None or term.type is not None or not term.container_ok:
                raise Unsupported("document wrapper")
            if not isinstance(term.iri, str) or term.iri in _KEYWORDS or not _ABSOLUTE_IRI.match(term.iri):
                raise Unsupported("document wrapper")
        values: set[str] = set()
        _add(values, document.iri)
        return frozenset(values)

    def scoped(self, active: _Active, local: Any) -> _Active:
        """``active`` with the property-scoped context ``local`` applied (PyLD, memoised)."""
        entry = active.scoped.get(id(local))
        if entry is None or entry[0] is not local:
            with self._lock:
                result: _Active | None
                try:
                    processed = self._processor._process_context(
                        active.ctx, local, self._options, propagate=True, override_protected=True
                    )
                    result = _Active(processed)
                except Exception:
                    result = None  # PyLD raises, or the result is beyond the walk: the library decides
                entry = active.scoped[id(local)] = (local, result)  # keeps ``local``, so its id stays its own
        if entry[1] is None:
            raise Unsupported("scoped context")
        return entry[1]

    def expand_relative(self, active: _Active, value: str, vocab: bool) -> Any:
        """PyLD's own expansion of a relative IRI (against its default base, never a CBV IRI;
        PyLD's ``_expand_iri`` reads the context only, no lock needed).

        Memoised per active context (a pure function of the context and the value; cleared at
        :data:`_RELATIVE_MEMO` entries): a shipment's PO reference comes back in each of its events,
        and PyLD's base resolution (``remove_dot_segments``) is a few per cent of the walk."""
        key = (value, vocab)
        expanded = active.relative.get(key, _MISSING)
        if expanded is not _MISSING:
            return expanded
        try:
            expanded = self._processor._expand_iri(active.ctx, value, base="", vocab=vocab)
        except Exception as exc:
            raise Unsupported("relative IRI") from exc
        if len(active.relative) >= _RELATIVE_MEMO:
            active.relative.clear()
        active.relative[key] = expanded
        return expanded


def _add(values: set[str], value: Any) -> None:
    if type(value) is str and value.startswith(_CBV_PREFIXES):
        values.add(value)


def _expand_iri(prepared: PreparedContext, active: _Active, value: str, *, vocab: bool, base: bool) -> Any:
    """PyLD's ``_expand_iri`` for a context without ``@vocab``/``@base`` (checked in _Active).

    ``base`` is True where PyLD passes ``base=''`` (values), False where it passes none (keys).
    """
    if value[:1] == "@":
        if value in _KEYWORDS:
            return value
        if _KEYWORD_LIKE.match(value):
            return None
    if vocab:
        term = active.term(value)
        if term is not None:
            return term.iri
    colon = value.find(":")
    if colon > 0:
        prefix, suffix = value[:colon], value[colon + 1 :]
        if prefix == "_" or suffix.startswith("//"):
            return value
        mapping = active.mappings.get(prefix)
        if mapping and mapping["_prefix"]:
            return mapping["@id"] + suffix
        if _ABSOLUTE_IRI.match(value):
            return value
    if base:
        return prepared.expand_relative(active, value, vocab)
    return value  # a relative key: PyLD drops it


def expanded_cbv_values(prepared: PreparedContext, event: Mapping[str, Any]) -> frozenset[str]:
    """*E*: the CBV and GS1 Web Vocabulary strings of the JSON-LD expansion of the library's
    one-event document. Raises :class:`Unsupported` where the walk does not model PyLD."""
    active = prepared.active
    if active is None:
        raise Unsupported("context")
    values = set(prepared.wrapper_values)
    _walk_node(prepared, active, "eventList", event, values)
    return frozenset(values)


def _walk_node(prepared: PreparedContext, active: _Active, prop: str, element: Any, out: set[str]) -> None:
    """PyLD ``_expand(active, prop, element)`` of a node object: property-scoped context,
    ``_prepare_nested_context`` (type-scoped contexts are not modelled), ``_expand_object``."""
    if type(element) is not dict:
        raise Unsupported("not a plain object")
    term = active.term(prop)
    if term is not None and term.scoped is not None:
        active = prepared.scoped(active, term.scoped)
    properties: list[tuple[str, Any, _Term | None]] = []
    node_id: Any = None
    types: list[Any] = []
    for key, value in element.items():
        if type(key) is not str:
            raise Unsupported("not plain JSON")
        expanded, term, kept = active.key(prepared, key)
        if not kept:
            continue  # dropped by PyLD, with everything below it
        if expanded == "@id":
            if node_id is not None or type(value) is not str:
                raise Unsupported("@id")  # colliding keywords, or not a string: PyLD raises
            node_id = value
        elif expanded == "@type":
            names = value if type(value) is list else [value]
            if not names or any(type(name) is not str for name in names):
                raise Unsupported("@type value")
            for name in names:
                type_term = active.term(name)
                if type_term is not None and type_term.scoped is not None:
                    raise Unsupported("type-scoped context")
            types.extend(names)
        elif expanded in _KEYWORDS:
            raise Unsupported("keyword")
        else:
            properties.append((key, value, term))
    if node_id is not None:
        _add_iri(out, _expand_iri(prepared, active, node_id, vocab=False, base=True))
    for name in types:
        _add_iri(out, _expand_iri(prepared, active, name, vocab=True, base=True))
    for key, value, term in properties:
        term_active = active
        if term is not None:
            if not term.container_ok:
                raise Unsupported("container")
            if term.scoped is not None:
                term_active = prepared.scoped(active, term.scoped)
        _walk_value(prepared, term_active, key, value, out)


def _add_iri(out: set[str], iri: Any) -> None:
    if type(iri) is not str or iri in _KEYWORDS:
        raise Unsupported("IRI")
    _add(out, iri)


def _walk_value(prepared: PreparedContext, active: _Active, key: str, value: Any, out: set[str]) -> None:
    """PyLD ``_expand(active, key, value)`` for a non-keyword property ``key``."""
    if value is None:
        return
    kind = type(value)
    if kind is list:
        term = active.term(key)
        if term is not None and not term.container_ok:
            raise Unsupported("container")
        for item in value:
            _walk_value(prepared, active, key, item, out)
    elif kind is dict:
        _walk_node(prepared, active, key, value, out)
    elif kind in _PLAIN_SCALARS:  # _expand_value
        expanded, term, _ = active.key(prepared, key)
        if expanded in _KEYWORDS:
            raise Unsupported("keyword property")
        type_ = term.type if term is not None else None
        if kind is str:
            if type_ == "@id":
                _add_iri(out, _expand_iri(prepared, active, value, vocab=False, base=True))
                return
            if type_ == "@vocab":
                _add_iri(out, _expand_iri(prepared, active, value, vocab=True, base=True))
                return
            if value.startswith(_CBV_PREFIXES):
                out.add(value)
        if type_ is not None and type_ not in ("@id", "@vocab", "@none"):
            _add(out, type_)
    else:
        raise Unsupported("not plain JSON")


# --- the bare-word replacement and the simple tree (step 2) ----------------------------------


@lru_cache(maxsize=1024)
def _suffix_index(values: frozenset[str]) -> dict[str, tuple[str, ...]]:
    """For each ``v``: the members of ``values`` ending with ``-v`` or ``/v`` (the library's
    ``_find_replacement_string_values``, inverted: one dictionary look-up per value)."""
    index: dict[str, list[str]] = {}
    for value in values:
        for position, char in enumerate(value):
            if char in "-/":
                index.setdefault(value[position + 1 :], []).append(value)
    return {suffix: tuple(matches) for suffix, matches in index.items()}


_IGNORED_KEYS = ("#text", "rdfs:comment", "comment")


class _Converter:
    """``_replace_bare_string_values`` then ``_json_to_py``, in one pass over the event."""

    __slots__ = ("index", "namespaces")

    def __init__(self, expanded: frozenset[str], namespaces: Mapping[str, str]) -> None:
        self.index = _suffix_index(expanded)
        self.namespaces = namespaces

    def replace(self, value: Any) -> Any:
        """The value as the library's replacement leaves it (a copy; the input is not touched)."""
        if type(value) is str:
            matches = self.index.get(value)
            return matches[0] if matches is not None and len(matches) == 1 else value
        if type(value) is list:
            return [self.replace(item) for item in value]
        if type(value) is dict:
            if any(type(key) is not str for key in value):
                raise Unsupported("not plain JSON")
            return {key: self.replace(item) for key, item in value.items()}
        if value is None or type(value) in _PLAIN_SCALARS:
            return value
        raise Unsupported("not plain JSON")

    def namespace_replace(self, text: Any, is_value: bool = False) -> Any:
        """``json_to_py._namespace_replace`` with this document's namespaces."""
        if not self.namespaces or not isinstance(text, str):
            return text
        prefix, colon, rest = text.partition(":")
        if colon and prefix in self.namespaces:
            if is_value:
                return self.namespaces[prefix].replace("{", "").replace("}", "") + rest
            return self.namespaces[prefix] + rest
        return text

    def leaf(self, value: Any) -> str:
        """What ``_json_to_py`` makes of a replaced scalar: ``str(_namespace_replace(v, True))``."""
        kind = type(value)
        if kind is str:
            matches = self.index.get(value)
            if matches is not None and len(matches) == 1:
                value = matches[0]
            return self.namespace_replace(value, True) if self.namespaces else value
        if value is None or kind in _PLAIN_SCALARS:
            return str(value)
        raise Unsupported("not plain JSON")

    def to_py(self, json_obj: Any) -> tuple[Any, Any, list[Any]]:
        """``json_to_py._json_to_py`` of ``self.replace(json_obj)``."""
        py_obj: tuple[Any, Any, list[Any]] = ("", "", [])
        kind = type(json_obj)
        if kind is list:
            children = py_obj[2]
            for child in json_obj:
                if type(child) is list or type(child) is dict:
                    children.append(self.to_py(child))
                else:
                    children.append(("", self.leaf(child), []))
        elif kind is dict:
            if "type" in json_obj:
                py_obj = (self.replace(json_obj["type"]), "", [])
            if "#text" in json_obj:
                py_obj = (py_obj[0], self.replace(json_obj["#text"]), py_obj[2])
            children = py_obj[2]
            for key, val in json_obj.items():
                if type(key) is not str:
                    raise Unsupported("not plain JSON")
                if key in _IGNORED_KEYS:
                    self.replace(val)  # not part of the tree, but must be plain JSON all the same
                    continue
                if key.startswith("@xmlns"):
                    raise Unsupported("@xmlns")  # would change the library's namespaces
                val_kind = type(val)
                if val_kind is list:
                    child = self.to_py(val)
                    key = self.namespace_replace(key)
                    for element in child[2]:
                        children.append((key, element[1], element[2]))
                elif val_kind is dict:
                    child = self.to_py(val)
                    children.append((self.namespace_replace(key), child[1], child[2]))
                else:
                    children.append((self.namespace_replace(key), self.leaf(val), []))
        else:
            return "", self.leaf(json_obj), []
        if not self._keeps_order(json_obj):
            py_obj[2].sort()
        return py_obj

    def _keeps_order(self, json_obj: Any) -> bool:
        """The library's ``[k for k in ["bizTransaction", "source", "destination"] if k in
        json_obj]``, on the replaced object: keys of a dict, replaced strings of a list."""
        names = ("bizTransaction", "source", "destination")
        if type(json_obj) is dict:
            return any(name in json_obj for name in names)
        return any(type(item) is str and item in names and self.replace(item) == item for item in json_obj)


def simple_tree(event: Mapping[str, Any], expanded: frozenset[str], namespaces: Mapping[str, str]) -> Any:
    """The library's corrected simple tree of ``event`` (steps 2 and 3)."""
    return deep_structure_correction(_Converter(expanded, namespaces).to_py(event))


_LIST_PAIRS = ("sourceList", "destinationList", "bizTransactionList")
_correct_mismatch = json_xml_model_mismatch_correction._correct_xml_vs_js_structure_mismatch


def deep_structure_correction(py_obj: Any) -> Any:
    """``json_xml_model_mismatch_correction.deep_structure_correction``, line for line, except
    that a leaf (no children) skips the list bookkeeping that finds nothing to do for it."""
    if len(py_obj) > 2 and type(py_obj[2]) is list and not py_obj[2]:
        return _correct_mismatch((py_obj[0], py_obj[1], []))
    lvl1_corrected_children: Any = []
    if len(py_obj) > 2:
        lvl1_corrected_children = py_obj[2]
    lists: dict[Any, list[Any]] = {}
    for element in [e for e in lvl1_corrected_children if not isinstance(e[0], tuple) and e[0].endswith("List")]:
        if element[0] not in lists:
            lists[element[0]] = []
        lists[element[0]].append((element[0][:-4], element[1], element[2]))
        lvl1_corrected_children.remove(element)
    for list_name, list_elements in lists.items():
        if list_name in _LIST_PAIRS:
            lvl1_corrected_children.append((list_name, "", [(e[2][0], e[2][1]) for e in list_elements]))
        else:
            lvl1_corrected_children.append((list_name, "", list_elements))
    child_epcs: list[Any] = []
    for element in [element for element in lvl1_corrected_children if element[0] == "childEPCs"]:
        child_epcs.append(("epc", element[1], []))
        lvl1_corrected_children.remove(element)
    if child_epcs:
        lvl1_corrected_children.append(("childEPCs", "", child_epcs))
    corrected_children = []
    for element in lvl1_corrected_children:
        if element[0] in _LIST_PAIRS:
            corrected_children.append(element)
        else:
            corrected_children.append(deep_structure_correction(element))
    return _correct_mismatch((py_obj[0], py_obj[1], corrected_children))


# --- the pre-hash string (step 4) -------------------------------------------------------------

_JOIN_BY = ""  # the library's default, which derive_prehashes_from_events resets on every call
_canonize_value = lru_cache(maxsize=1 << 16)(hash_generator._canonize_value)
_library_fix_time = hash_generator._fix_time_stamp_format
_ISO_TIME = re.compile(
    r"([1-9]\d{3})-(\d{2})-(\d{2})T([01]\d|2[0-3]):([0-5]\d):([0-5]\d)(?:\.(\d{1,6}))?(?:(Z)|([+-])([01]\d|2[0-3]):([0-5]\d))"
)
_UTC = _dt.UTC


def fix_time_stamp_format(timestamp: str) -> str:
    """``hash_generator._fix_time_stamp_format``: UTC, milliseconds, ``Z``.

    ``YYYY-MM-DDThh:mm:ss[.f{1,6}](Z|±hh:mm)`` is read here (dateutil reads it to the same
    instant); anything else, or a date that does not exist, goes to the library function.
    """
    match = _ISO_TIME.fullmatch(timestamp)
    if match is None:
        return str(_library_fix_time(timestamp))
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    if zulu:
        zone = _UTC
    else:
        offset = _dt.timedelta(hours=int(off_h), minutes=int(off_m))
        zone = _dt.timezone(-offset if sign == "-" else offset)
    micros = int(fraction.ljust(6, "0")) if fraction else 0
    try:
        moment = _dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micros, zone)
        moment = moment.astimezone(_UTC)
    except (ValueError, OverflowError):
        return str(_library_fix_time(timestamp))
    moment = moment.replace(microsecond=round(moment.microsecond, -3))  # may raise, as in the library
    return moment.isoformat(timespec="milliseconds")[:-6] + "Z"


def _child_to_pre_hash_string(child: Any, sub_child_order: Any) -> str:
    text = ""
    grand_child_text = ""
    if sub_child_order:
        grand_child_text = _recurse_through_children_in_order(child[2], sub_child_order)
    if child[1]:
        text = child[1].strip()
        if child[0].lower().find("time") >= 0 and child[0].lower().find("offset") < 0:
            text = fix_time_stamp_format(text)
        else:
            text = _canonize_value(text)
        if text:
            text = "=" + text
    if text or grand_child_text:
        return str(child[0] + text + grand_child_text)
    return ""


def _recurse_through_children_in_order(child_list: list[Any], child_order: Any) -> str:
    pre_hash = ""
    user_extensions = _gather_user_extensions(child_list)
    present = {x[0] for x in child_list if type(x[0]) is str}
    for child_name, sub_child_order in child_order:
        if type(child_name) is str and child_name not in present:
            continue  # no such children: the library's loop body changes nothing either
        children = [x for x in child_list if x[0] == child_name]
        list_of_values = []
        for child in children:
            child_pre_hash = _child_to_pre_hash_string(child, sub_child_order)
            if child_pre_hash:
                list_of_values.append(child_pre_hash)
            if len(child[2]) == 0:
                child_list.remove(child)
        list_of_values.sort()
        if "".join(list_of_values):
            if pre_hash:
                list_of_values.insert(0, pre_hash)
            pre_hash = _JOIN_BY.join(list_of_values)
    if len(user_extensions) > 0:
        pre_hash = pre_hash + _JOIN_BY + _generic_child_list_to_prehash_string(user_extensions)
    return pre_hash


def _gather_user_extensions(child_list: list[Any]) -> list[Any]:
    user_extensions: list[Any] = []
    if len(child_list) <= 1:
        return user_extensions
    for child in child_list:
        if "eventTime" in child[0] or "action" in child[0]:
            return user_extensions
    for x in child_list:
        if isinstance(x, tuple) and ("{" in x[0] and "/}" in x[0]):
            user_extensions.append(x)
    for element_to_remove in user_extensions:
        child_list.remove(element_to_remove)
    return user_extensions


def _generic_child_list_to_prehash_string(children: Any) -> str:
    list_of_values = []
    for child in children:
        if isinstance(child, tuple) and len(child) == 2 and isinstance(child[0], tuple):
            list_of_values.append(_generic_child_list_to_prehash_string(child))
        else:
            text = child[1].strip()
            if text:
                text = _canonize_value(text)
                text = "=" + text
            list_of_values.append(child[0] + text + _generic_child_list_to_prehash_string(child[2]))
    if len(children) > 1 and hash_generator.should_sort(children):
        list_of_values.sort()
    return _JOIN_BY.join(list_of_values)


def _gather_elements_not_in_order(children: list[Any]) -> str:
    children = [child for child in children if child[0] not in ("recordTime", "eventID", "type", "errorDeclaration")]
    if children:
        return _generic_child_list_to_prehash_string(children)
    return ""


def pre_hash_of_tree(event: Any) -> str:
    """``derive_prehashes_from_events`` for one corrected simple tree (consumed)."""
    pre_hash = "eventType=" + event[0] + _JOIN_BY + _recurse_through_children_in_order(event[2], PROP_ORDER) + _JOIN_BY
    pre_hash += _gather_elements_not_in_order(event[2])
    if type(pre_hash) is not str:
        raise Unsupported("pre-hash string")
    return pre_hash


# --- contexts, cached ------------------------------------------------------------------------


def context_key(context: Any) -> str:
    """An exact cache key for a document ``@context`` (its JSON text, key order kept);
    raises :class:`Unsupported` for anything but plain JSON."""
    if type(context) is str:
        return context
    _check_plain(context)
    return json.dumps(context, ensure_ascii=False)


def _check_plain(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            for key, child in item.items():
                if type(key) is not str:
                    raise Unsupported("not plain JSON")
                stack.append(child)
        elif kind is list:
            stack.extend(item)
        elif item is not None and kind not in _PLAIN_SCALARS:
            raise Unsupported("not plain JSON")


class ContextCache:
    """A small LRU of :class:`PreparedContext` by :func:`context_key`; thread-safe."""

    def __init__(
        self,
        loader: Callable[..., Any],
        namespaces_of: Callable[[Any], Mapping[str, str]],
        lock: threading.Lock,
        maxsize: int = 64,
    ) -> None:
        self._loader = loader
        self._namespaces_of = namespaces_of
        self._lock = lock
        self._maxsize = maxsize
        self._entries: OrderedDict[str, PreparedContext] = OrderedDict()

    def get(self, context: Any) -> PreparedContext:
        """The prepared ``context`` (a URL, an object or a list, as in a document)."""
        key = context_key(context)
        entry = self._entries.get(key)
        if entry is not None:
            return entry
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                private = context if type(context) is str else json.loads(key)
                entry = PreparedContext(private, self._namespaces_of(private), self._loader, self._lock)
                self._entries[key] = entry
                while len(self._entries) > self._maxsize:
                    self._entries.popitem(last=False)
        return entry
