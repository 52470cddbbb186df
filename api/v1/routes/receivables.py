"""``/v1/receivables``: receivable roots, their trees as far as the party may see, and the actions on them:
issue, split, transfer, financing (request, signed offer, acceptance), repay, claim.

Financing requests are kept and read by ``api.v1.financing`` (their states, who sees them); the inbox
that lists them and the withdrawal are ``api.v1.routes.financing``."""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy import insert, or_, select
from sqlalchemy.exc import IntegrityError

from api.errors import Forbidden, InvalidField, NotFound
from api.v1 import store
from api.v1.auth import Party
from api.v1.deps import ERRORS, Me, Svc
from api.v1.financing import EVERY_BANK, pricing_columns, pricing_out
from api.v1.read_answers import response
from api.v1.reads import piece_out
from api.v1.routes.common import prepared, require_signer, typed
from api.v1.schemas import (
    FinancingRequestIn,
    FinancingRequestOut,
    IssueIn,
    IssueTermsIn,
    IssueTypedDataOut,
    OfferIn,
    OfferOut,
    OfferTermsIn,
    PieceOut,
    PiecePage,
    PreparedOut,
    ProofOut,
    ReceivableDetailOut,
    ReceivablePage,
    RepayIn,
    SplitIn,
    TransferIn,
    TypedDataOut,
)
from ledger.clients.receivables import ReceivablesClient
from ledger.domain.fingerprints import InvalidInvoiceField, InvoiceFields, invoice_commitment
from ledger.domain.receivables import Child, FinanceOffer, IssueTerms
from ledger.eth.proofs import fetch_bundle, web3_rpc

router = APIRouter(prefix="/receivables", tags=["receivables"], responses=ERRORS)

Id = Annotated[int, Path(ge=1, lt=2**63)]
STATUSES = r"^(OUTSTANDING|REPAID|DEFAULTED)$"


@router.get("", response_model=ReceivablePage)
async def receivables(
    svc: Svc,
    party: Me,
    after: Annotated[int, Query(ge=0, lt=2**63)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    status: Annotated[str | None, Query(pattern=STATUSES)] = None,
) -> ReceivablePage:
    items, next_after = svc.reads.receivables(party, after, limit, status)
    return ReceivablePage(items=items, nextAfter=next_after)


@router.get("/pieces", response_model=PiecePage)
async def pieces_held(
    svc: Svc,
    party: Me,
    after: Annotated[int, Query(ge=0, lt=2**63)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PiecePage:
    items, next_after = svc.reads.pieces_held(party, after, limit)
    return PiecePage(items=items, nextAfter=next_after)


@router.get("/pieces/{piece_id}", response_model=PieceOut)
async def piece(svc: Svc, party: Me, piece_id: Id) -> PieceOut:
    found, _root = svc.reads.piece_row(party, piece_id)
    return piece_out(found)


@router.get("/pieces/{piece_id}/proof", response_model=ProofOut)
def proof(svc: Svc, party: Me, piece_id: Id, block: Annotated[int | None, Query(ge=0, lt=2**63)] = None) -> ProofOut:
    """The piece's on-chain state with a storage proof against block ``block`` (default: the latest)."""
    svc.reads.piece_row(party, piece_id)
    if block is not None and block > svc.chain.block_number:
        raise InvalidField("block", f"block {block} is not mined yet")
    layout = svc.receivable_layout
    rpc = web3_rpc(svc.chain.w3, svc.chain.endpoint)
    bundle = fetch_bundle(rpc, svc.settings.addresses["Receivables"], piece_id, layout, block)
    if "claim" not in bundle:
        raise NotFound("piece", piece_id)  # indexed but not on chain at that block (before it existed)
    return ProofOut(**bundle)


@router.get("/{root_id}", response_model=ReceivableDetailOut)
async def receivable(svc: Svc, party: Me, root_id: Id) -> Response:
    return response(svc.reads.receivable_json(party, root_id))


# -- writes ---------------------------------------------------------------------------------------


def _client(svc: Svc) -> ReceivablesClient:
    return svc.receivables


NO_KEY = (
    "this server holds no consortium key, so it cannot fingerprint the invoice: send fingerprint and "
    "invoiceCommitment computed yourself (scf fingerprint compute --key-file KEY ..., ledger/domain/FINGERPRINTS.md), "
    "or ask the operator to start the API with scf serve --fingerprint-key FILE"
)


def _bytes32(value: str | None) -> bytes | None:
    return None if value is None else bytes.fromhex(value[2:])


def _invoice(svc: Svc, body: IssueTermsIn) -> tuple[bytes, bytes, bytes | None]:
    """The fingerprint and commitment the debtor signs, and the salt when the server chose it. What the body
    gives is used as given; what it leaves out is computed from the invoice's fields with the consortium key."""
    tag, commitment, salt = _bytes32(body.fingerprint), _bytes32(body.invoiceCommitment), _bytes32(body.invoiceSalt)
    if tag == bytes(32):
        raise InvalidField("fingerprint", "a zero fingerprint names no invoice; the contract refuses it")
    if tag is not None and commitment is not None:
        return tag, commitment, None
    if body.invoiceNumber is None:
        missing = "fingerprint" if tag is None else "invoiceCommitment"
        raise InvalidField(missing, "send fingerprint and invoiceCommitment, or the invoiceNumber and invoiceDate")
    key, keyed = svc.settings.fingerprint_key, tag is None or salt is None  # keyed: the server computes a part
    if keyed and key is None:
        raise InvalidField("fingerprint" if tag is None else "invoiceSalt", NO_KEY)
    if keyed and body.invoiceDate is None:
        raise InvalidField("invoiceDate", "the invoice's date, YYYY-MM-DD (UTC), is part of its fingerprint")
    try:
        if keyed and key is not None and body.invoiceDate is not None:
            fields = InvoiceFields.of(
                debtor=body.debtor,
                creditor=body.creditor,
                invoice_number=body.invoiceNumber,
                amount=body.faceValue if body.invoiceAmount is None else body.invoiceAmount,
                invoice_date=body.invoiceDate,
            )
            tag = tag or fields.fingerprint(key)
            salt = salt or fields.derived_salt(key)
        if tag is None or salt is None:  # unreachable: keyed needs a key and a date, checked above
            raise InvalidField("fingerprint", NO_KEY)
        made = invoice_commitment(salt, body.invoiceNumber)
    except InvalidInvoiceField as exc:
        raise InvalidField(exc.field, exc.reason) from exc
    if commitment is not None and commitment != made:
        raise InvalidField("invoiceCommitment", "does not commit to invoiceNumber under invoiceSalt")
    return tag, made, None if body.invoiceSalt is not None else salt


def _issue_terms(svc: Svc, body: IssueTermsIn) -> tuple[IssueTerms, bytes | None]:
    tag, commitment, salt = _invoice(svc, body)
    terms = IssueTerms(
        body.debtor,
        body.creditor,
        svc.settings.addresses["SettlementToken"],
        body.faceValue,
        body.maturity,
        bytes.fromhex(body.invoiceHash[2:]),
        tag,
        commitment,
        body.orderId,
        body.nonce,
        body.deadline,
    )
    return terms, salt


def _issuer(party: Party, body: IssueTermsIn, action: str) -> None:
    if party.address not in (body.debtor, body.creditor):
        raise Forbidden(party.address, action, "only the debtor or the creditor of a receivable may")


@router.post("/typed-data", response_model=IssueTypedDataOut)
def issue_typed_data(svc: Svc, party: Me, body: IssueTermsIn) -> IssueTypedDataOut:
    """The EIP-712 acknowledgement the debtor signs to issue a receivable to its creditor (its message holds
    the invoice's fingerprint and commitment; ``invoiceSalt`` is the commitment's salt when the server chose it)."""
    _issuer(party, body, "draft this receivable")
    terms, salt = _issue_terms(svc, body)
    document = typed(_client(svc).issue_document(terms))
    return IssueTypedDataOut(**document.model_dump(), invoiceSalt=None if salt is None else "0x" + salt.hex())


@router.post("", response_model=PreparedOut)
def issue(svc: Svc, party: Me, body: IssueIn) -> PreparedOut:
    _issuer(party, body.terms, "issue this receivable")
    client = _client(svc)
    terms, _salt = _issue_terms(svc, body.terms)
    require_signer(
        client.issue_document(terms), body.debtorSignature, body.terms.debtor, "debtorSignature", chain=svc.chain
    )
    call = client.calls.issue(terms, bytes.fromhex(body.debtorSignature[2:]))
    return prepared(svc, "issue", call, party.address)


def _held(svc: Svc, party: Party, piece_id: int, action: str) -> Any:
    """The piece's root, if ``party`` holds the piece (404 unless it sees it, 403 unless it holds it)."""
    piece, root = svc.reads.piece_row(party, piece_id)  # 404 unless visible
    if piece.holder != party.address:
        raise Forbidden(party.address, action, f"only the holder of piece {piece_id} may")
    return root


@router.post("/pieces/{piece_id}/split", response_model=PreparedOut)
def split(svc: Svc, party: Me, piece_id: Id, body: SplitIn) -> PreparedOut:
    _held(svc, party, piece_id, "split this piece")
    children = [Child(c.amount, c.holder, bytes.fromhex(c.ref[2:])) for c in body.children]
    return prepared(svc, "split", _client(svc).calls.split(piece_id, children), party.address)


@router.post("/pieces/{piece_id}/transfer", response_model=PreparedOut)
def transfer(svc: Svc, party: Me, piece_id: Id, body: TransferIn) -> PreparedOut:
    _held(svc, party, piece_id, "transfer this piece")
    call = _client(svc).calls.transfer(party.address, body.to, piece_id)
    return prepared(svc, "transferFrom", call, party.address)


@router.post("/pieces/{piece_id}/claim", response_model=PreparedOut)
def claim(svc: Svc, party: Me, piece_id: Id) -> PreparedOut:
    _held(svc, party, piece_id, "claim on this piece")
    return prepared(svc, "claim", _client(svc).calls.claim(piece_id), party.address)


@router.post("/{root_id}/repay", response_model=PreparedOut)
def repay(svc: Svc, party: Me, root_id: Id, body: RepayIn) -> PreparedOut:
    root = svc.reads.root_row(party, root_id)
    if party.address != root.debtor:
        raise Forbidden(party.address, "repay this receivable", f"only its debtor {root.debtor} repays through the API")
    return prepared(svc, "repay", _client(svc).calls.repay(root_id, body.amount), party.address)


# -- financing: the holder asks a bank, the bank signs an offer, the holder accepts ------------------


@router.post(
    "/pieces/{piece_id}/financing-requests",
    status_code=201,
    response_model=FinancingRequestOut,
)
def request_financing(svc: Svc, party: Me, piece_id: Id, body: FinancingRequestIn) -> FinancingRequestOut:
    """Show the piece (and the path to its root) to ``bank``, or to every active bank when it names none, which
    may then send a signed offer; open ``expiresIn`` seconds, never past the receivable's maturity. Asking again
    while the request is live answers it; once withdrawn or expired, asking again reopens it."""
    root = _held(svc, party, piece_id, "offer this piece for financing")
    if body.bank is not None:
        bank = svc.reads.member_or_none(body.bank)
        if bank is None or "bank" not in bank.roles or bank.status != "ACTIVE":
            raise InvalidField("bank", f"{body.bank} is not an active bank on the ledger")
    return svc.reads.financing.ask(party, piece_id, body.bank or EVERY_BANK, body.expiresIn, int(root.maturity))


def _bank_sees(svc: Svc, party: Party, piece_id: int, action: str) -> Any:
    piece, _root = svc.reads.piece_row(party, piece_id)  # 404 unless offered to (or held by) this party
    if not party.has("bank"):
        raise Forbidden(party.address, action, "only a bank signs financing offers")
    return piece


def _offer(piece_id: int, bank: str, body: OfferTermsIn) -> FinanceOffer:
    return FinanceOffer(piece_id, bank, body.price, body.deadline, body.nonce)


@router.post("/pieces/{piece_id}/offers/typed-data", response_model=TypedDataOut)
def offer_typed_data(svc: Svc, party: Me, piece_id: Id, body: OfferTermsIn) -> TypedDataOut:
    _bank_sees(svc, party, piece_id, "offer to finance this piece")
    return typed(_client(svc).offer_document(_offer(piece_id, party.address, body)))


@router.post("/pieces/{piece_id}/offers", status_code=201, response_model=OfferOut)
def make_offer(svc: Svc, party: Me, piece_id: Id, body: OfferIn) -> OfferOut:
    piece = _bank_sees(svc, party, piece_id, "offer to finance this piece")
    if body.deadline >= 2**63:  # the store keeps deadlines in a signed 64-bit column
        raise InvalidField("deadline", "an offer's deadline must be below 2**63")
    pricing = pricing_columns(body.pricing, body.price)
    offer = _offer(piece_id, party.address, body)
    require_signer(_client(svc).offer_document(offer), body.signature, party.address, "signature", chain=svc.chain)
    if _client(svc).offer_nonce_used(party.address, body.nonce):
        raise InvalidField("nonce", f"offer nonce {body.nonce} of {party.address} is already used on chain")
    row = {
        "id": str(uuid.uuid4()),
        "piece_id": piece_id,
        "holder": piece.holder,
        "bank": party.address,
        "price": body.price,
        "deadline": body.deadline,
        "nonce": body.nonce,
        "signature": body.signature,
        "created_at": int(time.time()),
        **pricing,
    }
    try:
        with svc.store.begin() as connection:
            connection.execute(insert(store.offers).values(**row))
    except IntegrityError as exc:
        raise InvalidField("nonce", f"offer nonce {body.nonce} was already used for another offer") from exc
    return _offer_out(row)


def _offer_out(row: Any) -> OfferOut:
    return OfferOut(
        id=row["id"],
        pieceId=row["piece_id"],
        holder=row["holder"],
        bank=row["bank"],
        price=str(row["price"]),
        deadline=row["deadline"],
        nonce=row["nonce"],
        signature=row["signature"],
        createdAt=row["created_at"],
        pricing=pricing_out(row),
    )


@router.get("/pieces/{piece_id}/offers", response_model=list[OfferOut])
async def offers(
    svc: Svc,
    party: Me,
    piece_id: Id,
    order: Annotated[
        Literal["created", "best"],
        Query(
            description="created: oldest first; best: offers before their deadline, highest price first, then the rest"
        ),
    ] = "created",
) -> list[OfferOut]:
    """The holder sees every offer on its piece, to take the best of competing banks; a bank its own."""
    svc.reads.piece_row(party, piece_id)
    query = select(store.offers).where(store.offers.c.piece_id == piece_id)
    if not party.auditor:
        query = query.where(or_(store.offers.c.holder == party.address, store.offers.c.bank == party.address))
    with svc.store.connect() as connection:
        rows = [row._mapping for row in connection.execute(query.order_by(store.offers.c.created_at)).all()]
    if order == "best":
        now = svc.reads.financing.now()  # the indexed head's time, as the inbox's states use
        rows.sort(key=lambda r: (r["deadline"] <= now, -int(r["price"])))
    return [_offer_out(row) for row in rows]


OfferId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")]


@router.post("/offers/{offer_id}/accept", response_model=PreparedOut)
def accept_offer(svc: Svc, party: Me, offer_id: OfferId) -> PreparedOut:
    """The finance transaction for the holder: the bank pays the price and becomes holder, atomically."""
    with svc.store.connect() as connection:
        row = connection.execute(select(store.offers).where(store.offers.c.id == offer_id)).one_or_none()
    if row is None or party.address not in (row.holder, row.bank):
        raise NotFound("offer", offer_id)
    _held(svc, party, row.piece_id, "accept this offer")
    offer = FinanceOffer(row.piece_id, row.bank, int(row.price), row.deadline, int(row.nonce))
    call = _client(svc).calls.finance(offer, bytes.fromhex(row.signature[2:]))
    return prepared(svc, "finance", call, party.address)
