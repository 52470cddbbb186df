"""Prove a receivable's on-chain state from a block's state root (``eth_getProof``), trusting no API.

A bank that is offered a receivable wants its state as the chain has it: who owes it, the
face value, what was repaid, whether it was financed, who holds it. The contract keeps that
in private storage (``_roots``, ``_pieces`` and ERC-721 ``_owners``), whose slots the
compiler's storage layout names. ``eth_getProof`` (EIP-1186) answers those slots with
Merkle-Patricia proofs: the account's proof leads from the block header's ``stateRoot`` to the
contract's ``storageRoot``, each storage proof from there to one slot's value.

``verify_bundle`` checks a proof bundle (what ``GET /v1/receivables/{id}/proof`` serves, or
what ``fetch_bundle`` builds from any node) against a header the verifier got **from its own
node**: the block hash and state root must match, every proof node must hash up to the root
(a tampered node breaks the chain of hashes), every slot the receivable needs must be proved,
and the values decoded from the proofs (never the values the bundle states beside them) must
equal what the bundle claims. Anything else raises ``ProofInvalid`` or ``ClaimMismatch``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import rlp
from eth_utils import keccak, to_checksum_address
from trie import HexaryTrie
from trie.exceptions import BadTrieProof

from ledger.errors import LedgerError

Rpc = Callable[[str, list[Any]], Any]


class ProofError(LedgerError):
    """Root of the errors of proving a receivable."""


class ProofInvalid(ProofError):
    """The bundle does not prove what it says: a bad node, a missing slot, another block or contract."""

    def __init__(self, what: str, reason: str) -> None:
        self.what = what
        self.reason = reason
        super().__init__(f"proof invalid ({what}): {reason}")


class ClaimMismatch(ProofError):
    """The proof is sound but the claimed state differs from the proved state."""

    def __init__(self, field: str, claimed: object, proved: object) -> None:
        self.field = field
        self.claimed = claimed
        self.proved = proved
        super().__init__(f"claimed {field} = {claimed!r}, but the chain proves {proved!r}")


class ProofUnavailable(ProofError):
    """The node would not serve the proof (no ``eth_getProof``, a pruned block, no such block)."""

    def __init__(self, endpoint: str, reason: str) -> None:
        self.endpoint = endpoint
        self.reason = reason
        super().__init__(f"{endpoint} could not serve the proof: {reason}")


# -- slots ----------------------------------------------------------------------------------------


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def mapping_slot(key: int, base: int) -> int:
    """The slot of ``mapping[key]`` (a value-type key) for a mapping declared at ``base``."""
    return int.from_bytes(keccak(_word(key) + _word(base)), "big")


@dataclass(frozen=True)
class Member:
    slot: int
    offset: int
    size: int


@dataclass(frozen=True)
class ReceivableLayout:
    """Where Receivables keeps a root, a piece and an owner: from solc's ``storageLayout``."""

    roots: int
    pieces: int
    owners: int
    root_members: dict[str, Member]
    piece_members: dict[str, Member]

    @classmethod
    def from_storage_layout(cls, layout: Mapping[str, Any]) -> ReceivableLayout:
        by_label = {entry["label"]: entry for entry in layout["storage"]}
        types = layout["types"]

        def members(mapping_type: str) -> dict[str, Member]:
            value_type = types[mapping_type]["value"]
            return {
                m["label"]: Member(int(m["slot"]), int(m["offset"]), int(types[m["type"]]["numberOfBytes"]))
                for m in types[value_type]["members"]
            }

        try:
            return cls(
                roots=int(by_label["_roots"]["slot"]),
                pieces=int(by_label["_pieces"]["slot"]),
                owners=int(by_label["_owners"]["slot"]),
                root_members=members(by_label["_roots"]["type"]),
                piece_members=members(by_label["_pieces"]["type"]),
            )
        except KeyError as exc:
            raise ProofError(f"the storage layout lacks {exc}: is it the Receivables contract's?") from exc

    def piece_slots(self, piece_id: int) -> list[int]:
        base = mapping_slot(piece_id, self.pieces)
        return [*sorted({base + m.slot for m in self.piece_members.values()}), mapping_slot(piece_id, self.owners)]

    def root_slots(self, root_id: int) -> list[int]:
        base = mapping_slot(root_id, self.roots)
        return sorted({base + m.slot for m in self.root_members.values()})


def _field(words: Mapping[int, int], base: int, member: Member) -> int:
    return (words[base + member.slot] >> (8 * member.offset)) & ((1 << (8 * member.size)) - 1)


# -- the state a bank checks ------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivableState:
    """One piece of a receivable tree, its holder, and its root, as proved from storage."""

    piece_id: int
    root_id: int
    parent_id: int
    amount: int
    claimed: int
    ref: str
    child_count: int
    financed: bool
    created_at: int
    holder: str
    debtor: str
    creditor: str
    token: str
    face_value: int
    maturity: int
    issued_at: int
    defaulted_at: int
    invoice_hash: str
    fingerprint: str
    invoice_commitment: str
    order_id: int
    repaid: int
    root_claimed: int

    def to_json(self) -> dict[str, Any]:
        """Integers wider than 53 bits as decimal strings, like the API's amounts."""
        return {k: (str(v) if isinstance(v, int) and not isinstance(v, bool) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReceivableState:
        values: dict[str, Any] = {}
        for name, kind in cls.__annotations__.items():
            if name not in data:
                raise ProofInvalid("claim", f"the claim lacks {name}")
            raw = data[name]
            values[name] = bool(raw) if kind == "bool" else int(raw) if kind == "int" else str(raw)
        return cls(**values)


def decode_state(piece_id: int, words: Mapping[int, int], layout: ReceivableLayout) -> ReceivableState:
    """The receivable from storage words (slot → value); every slot it needs must be present."""
    piece_base = mapping_slot(piece_id, layout.pieces)
    needed = layout.piece_slots(piece_id)
    missing = [slot for slot in needed if slot not in words]
    if missing:
        raise ProofInvalid("storage", f"slot {hex(missing[0])} of piece {piece_id} is not proved")
    p = layout.piece_members
    root_id = _field(words, piece_base, p["rootId"])
    if root_id == 0:
        raise ProofInvalid("storage", f"piece {piece_id} does not exist at this block (its root id is 0)")
    root_base = mapping_slot(root_id, layout.roots)
    missing = [slot for slot in layout.root_slots(root_id) if slot not in words]
    if missing:
        raise ProofInvalid("storage", f"slot {hex(missing[0])} of root {root_id} is not proved")
    r = layout.root_members

    def address(value: int) -> str:
        return str(to_checksum_address(_word(value)[12:]))

    def hash32(value: int) -> str:
        return "0x" + _word(value).hex()

    return ReceivableState(
        piece_id=piece_id,
        root_id=root_id,
        parent_id=_field(words, piece_base, p["parentId"]),
        amount=_field(words, piece_base, p["amount"]),
        claimed=_field(words, piece_base, p["claimed"]),
        ref=hash32(_field(words, piece_base, p["ref"])),
        child_count=_field(words, piece_base, p["childCount"]),
        financed=bool(_field(words, piece_base, p["financed"])),
        created_at=_field(words, piece_base, p["createdAt"]),
        holder=address(words[mapping_slot(piece_id, layout.owners)]),
        debtor=address(_field(words, root_base, r["debtor"])),
        creditor=address(_field(words, root_base, r["creditor"])),
        token=address(_field(words, root_base, r["token"])),
        face_value=_field(words, root_base, r["faceValue"]),
        maturity=_field(words, root_base, r["maturity"]),
        issued_at=_field(words, root_base, r["issuedAt"]),
        defaulted_at=_field(words, root_base, r["defaultedAt"]),
        invoice_hash=hash32(_field(words, root_base, r["invoiceHash"])),
        fingerprint=hash32(_field(words, root_base, r["fingerprint"])),
        invoice_commitment=hash32(_field(words, root_base, r["invoiceCommitment"])),
        order_id=_field(words, root_base, r["orderId"]),
        repaid=_field(words, root_base, r["repaid"]),
        root_claimed=_field(words, root_base, r["claimed"]),
    )


# -- Merkle-Patricia proofs ----------------------------------------------------------------------------


def _bytes(value: str) -> bytes:
    try:
        return bytes.fromhex(value.removeprefix("0x"))
    except (AttributeError, ValueError) as exc:
        raise ProofInvalid("encoding", f"{value!r} is not hex") from exc


def _walk(root: bytes, key: bytes, nodes: Sequence[str], what: str) -> bytes:
    """The value under ``key`` in the trie of ``root`` (b"" when the proof shows it absent)."""
    try:
        decoded = [rlp.decode(_bytes(node)) for node in nodes]
        return bytes(HexaryTrie.get_from_proof(root, key, decoded))
    except BadTrieProof as exc:
        raise ProofInvalid(what, f"a proof node does not hash up to the root ({exc})") from exc
    except (rlp.exceptions.DecodingError, ValueError, TypeError, IndexError) as exc:
        raise ProofInvalid(what, f"malformed proof node ({type(exc).__name__}: {exc})") from exc


@dataclass(frozen=True)
class Account:
    nonce: int
    balance: int
    storage_root: bytes
    code_hash: bytes


def verify_account(state_root: bytes, address: str, nodes: Sequence[str]) -> Account:
    value = _walk(state_root, keccak(_bytes(address)), nodes, "account")
    if not value:
        raise ProofInvalid("account", f"{address} has no account in this state")
    nonce, balance, storage_root, code_hash = rlp.decode(value)
    return Account(int.from_bytes(nonce, "big"), int.from_bytes(balance, "big"), bytes(storage_root), bytes(code_hash))


def verify_storage(storage_root: bytes, slot: int, nodes: Sequence[str]) -> int:
    value = _walk(storage_root, keccak(_word(slot)), nodes, f"storage slot {hex(slot)}")
    return int.from_bytes(rlp.decode(value), "big") if value else 0


# -- bundles ---------------------------------------------------------------------------------------


def _slot_hex(slot: int) -> str:
    return "0x" + _word(slot).hex()


def _int(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


def fetch_bundle(
    rpc: Rpc, contract: str, piece_id: int, layout: ReceivableLayout, block: int | None = None
) -> dict[str, Any]:
    """Proofs of piece ``piece_id`` and its root at ``block`` (default: latest) from the node behind ``rpc``.

    Two calls per proof: the piece first (to learn its root id), then the piece and root
    together at the same block, so every slot is proved against one state root.
    """
    tag = hex(block) if block is not None else "latest"
    header = rpc("eth_getBlockByNumber", [tag, False])
    if not header:
        raise ProofUnavailable("node", f"no block {tag}")
    number = hex(_int(header["number"]))
    address = str(to_checksum_address(contract))
    first = rpc("eth_getProof", [address, [_slot_hex(s) for s in layout.piece_slots(piece_id)], number])
    words = {_int(e["key"]): _int(e["value"]) for e in first["storageProof"]}
    root_id = _field(words, mapping_slot(piece_id, layout.pieces), layout.piece_members["rootId"])
    slots = layout.piece_slots(piece_id) + (layout.root_slots(root_id) if root_id else [])
    proof = rpc("eth_getProof", [address, [_slot_hex(s) for s in slots], number])
    bundle: dict[str, Any] = {
        "contract": address,
        "pieceId": piece_id,
        "block": {"number": _int(header["number"]), "hash": header["hash"], "stateRoot": header["stateRoot"]},
        "proof": proof,
    }
    if root_id:
        bundle["claim"] = verify_bundle(bundle, bundle["block"], layout, check_claim=False).to_json()
    return bundle


def verify_bundle(
    bundle: Mapping[str, Any],
    header: Mapping[str, Any],
    layout: ReceivableLayout,
    *,
    contract: str | None = None,
    check_claim: bool = True,
) -> ReceivableState:
    """The receivable the bundle proves, checked against ``header`` (from the verifier's own node).

    ``contract``: the Receivables address the verifier knows (from its deployment record);
    the bundle must be about that contract. With ``check_claim`` the bundle's ``claim`` must
    equal the proved state field by field.
    """
    block = bundle.get("block") or {}
    for key in ("hash", "stateRoot"):
        if str(block.get(key, "")).lower() != str(header.get(key, "")).lower():
            raise ProofInvalid("block", f"the bundle's {key} {block.get(key)} is not the node's {header.get(key)}")
    proof = bundle.get("proof") or {}
    address = str(bundle.get("contract", ""))
    if contract is not None and address.lower() != contract.lower():
        raise ProofInvalid("contract", f"the bundle proves {address}, not the Receivables contract {contract}")
    if str(proof.get("address", "")).lower() != address.lower():
        raise ProofInvalid("contract", "the account proof is for another address")
    account = verify_account(_bytes(str(header["stateRoot"])), address, proof.get("accountProof", []))
    if _bytes(str(proof.get("storageHash", "0x"))) != account.storage_root:
        raise ProofInvalid("account", "the stated storage hash is not the proved one")
    words: dict[int, int] = {}
    for entry in proof.get("storageProof", []):
        slot = _int(entry["key"])
        proved = verify_storage(account.storage_root, slot, entry.get("proof", []))
        if _int(entry.get("value", 0)) != proved:
            raise ProofInvalid(f"storage slot {hex(slot)}", "the stated value is not the proved one")
        words[slot] = proved
    state = decode_state(int(bundle["pieceId"]), words, layout)
    if check_claim:
        claimed = ReceivableState.from_json(bundle.get("claim") or {})
        for name, proved_value in asdict(state).items():
            if getattr(claimed, name) != proved_value:
                raise ClaimMismatch(name, getattr(claimed, name), proved_value)
    return state


def web3_rpc(w3: Any, endpoint: str = "node") -> Rpc:
    """JSON-RPC calls through a web3 provider; a node's error becomes ``ProofUnavailable``."""

    def call(method: str, params: list[Any]) -> Any:
        try:
            answer = w3.provider.make_request(method, params)
        except Exception as exc:  # transport failures of any provider
            raise ProofUnavailable(endpoint, f"{type(exc).__name__}: {exc}") from exc
        if answer.get("error"):
            raise ProofUnavailable(endpoint, str(answer["error"].get("message", answer["error"])))
        return answer.get("result")

    return call
