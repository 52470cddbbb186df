"""The Receivables model on its own: the rules, their order, the books (no chain here)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from eth_utils import keccak, to_checksum_address

from ledger.domain.escrow import Milestone, OrderStatus, OrderTerms
from ledger.domain.fingerprints import ConsortiumKey, fingerprint, invoice_commitment
from ledger.domain.receivables import Child, FinanceOffer, IssueTerms, ReceivableStatus, discount_bps
from ledger.model import EscrowModel, ModelRejected, ReceivablesModel, Roster, Transfer
from ledger.model.common import ROLE_ADMIN, ROLE_BANK, ROLE_CORE, ROLE_ORACLE, ROLE_SUPPLIER, OracleKind

DAY = 86_400
T0 = 1_800_000_000
FACE = 1_000_000


def party(tag: str) -> str:
    return to_checksum_address("0x" + keccak(text=tag)[:20].hex())


ADMIN, CORE, TIER1, TIER2, TIER3 = (party(t) for t in ("admin", "core", "tier1", "tier2", "tier3"))
BANK, BANK2, CARRIER, STRANGER = party("bank"), party("bank2"), party("carrier"), party("stranger")
RECEIVABLES, ESCROW, TOKEN = party("receivables"), party("escrow"), party("token")


def roster() -> Roster:
    r = Roster()
    r.set_member(ADMIN, ROLE_ADMIN)
    r.set_member(CORE, ROLE_CORE)
    for supplier in (TIER1, TIER2, TIER3):
        r.set_member(supplier, ROLE_SUPPLIER)
    r.set_member(BANK, ROLE_BANK)
    r.set_member(BANK2, ROLE_BANK)
    r.set_member(CARRIER, ROLE_ORACLE, OracleKind.CARRIER)
    return r


def new_model(orders: EscrowModel | None = None) -> ReceivablesModel:
    return ReceivablesModel(
        receivables=RECEIVABLES, currency=TOKEN, roster=orders.roster if orders else roster(), orders=orders
    )


KEY = ConsortiumKey.derived("model tests")


def tag(invoice: str, creditor: str = TIER1) -> bytes:
    return fingerprint(
        KEY, debtor=CORE, creditor=creditor, invoice_number=invoice, amount=FACE, invoice_date="2027-01-15"
    )


def terms(invoice: str = "INV-1", nonce: int = 1, creditor: str = TIER1, **changes: object) -> IssueTerms:
    commitment = invoice_commitment(keccak(text=f"salt {invoice}"), invoice)
    base = IssueTerms(
        CORE, creditor, TOKEN, FACE, T0 + 90 * DAY, keccak(text=invoice), tag(invoice, creditor), commitment, 0, nonce,
        T0 + DAY,
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def issue(model: ReceivablesModel, t: IssueTerms | None = None, now: int = T0) -> int:
    t = t or terms(f"INV-{model.piece_count + 1}", nonce=model.piece_count + 1)
    return model.issue(t, signer=t.debtor, caller=t.debtor, now=now).piece_ids[0]


def split(model: ReceivablesModel, piece_id: int, holder: str, *parts: tuple[int, str]) -> list[int]:
    kids = [Child(amount, to, keccak(text=f"sub-order {n}")) for n, (amount, to) in enumerate(parts)]
    return list(model.split(piece_id, kids, caller=holder, now=T0).piece_ids)


def rejected(call: Callable[[], object]) -> ModelRejected:
    with pytest.raises(ModelRejected) as info:
        call()
    assert info.value.contract == "Receivables" or info.value.error.startswith("ERC721")
    return info.value


def offer(piece_id: int, price: int, bank: str = BANK, nonce: int = 1, deadline: int = T0 + DAY) -> FinanceOffer:
    return FinanceOffer(piece_id, bank, price, deadline, nonce)


def test_an_issued_root_is_a_piece_held_by_the_creditor_and_uses_up_invoice_and_nonce() -> None:
    model = new_model()
    effect = model.issue(terms(), signer=CORE, caller=TIER1, now=T0)
    assert effect.events == ("ReceivableIssued", "Transfer") and effect.piece_ids == (1,)
    assert model.holder_of(1) == TIER1 and model.status(1) == ReceivableStatus.OUTSTANDING
    assert model.root(1).face_value == FACE and model.piece(1).is_root and model.outstanding(1) == FACE
    assert model.nonce_used(CORE, 1) and model.root_id_of_fingerprint(terms().fingerprint) == 1
    assert model.root(1).invoice_commitment == terms().invoice_commitment


@pytest.mark.parametrize(
    "variant", ["inv-1", " INV - 1 ", "INV-001", "iNv-0001\t", "INV_1", "INV.1", "INV#1", "inv1", "\uff29NV\u200b-1"]
)
def test_a_cosmetic_variant_of_an_issued_invoice_is_refused_whoever_submits_it(variant: str) -> None:
    model = new_model()
    issue(model, terms())
    error = rejected(lambda: model.issue(terms(variant, nonce=2), signer=CORE, caller=TIER1, now=T0))
    assert error.error_args == {"fingerprint": tag("INV-1"), "rootId": 1}
    assert error.error == "ReceivablesInvoiceAlreadyIssued"
    # the same number between other parties is another invoice
    issue(model, terms(variant, nonce=2, creditor=TIER2))


@pytest.mark.parametrize(
    ("change", "caller", "error"),
    [
        ({}, STRANGER, "ReceivablesNotParty"),
        ({"fingerprint": bytes(32)}, CORE, "ReceivablesFingerprintMissing"),
        ({"deadline": T0 - 1}, CORE, "ReceivablesSignatureExpired"),
        ({"creditor": CORE}, CORE, "ReceivablesSelfIssue"),
        ({"debtor": BANK}, TIER1, "ReceivablesDebtorNotEligible"),
        ({"creditor": BANK}, CORE, "ReceivablesCreditorNotEligible"),
        ({"token": STRANGER}, CORE, "ReceivablesTokenNotAllowed"),
        ({"face_value": 0}, CORE, "ReceivablesInvalidAmount"),
        ({"maturity": T0}, CORE, "ReceivablesInvalidMaturity"),
        ({"order_id": 7}, CORE, "ReceivablesOrderNotOpenAccount"),
    ],
)
def test_issue_terms_are_checked_in_the_contracts_order(change: dict[str, object], caller: str, error: str) -> None:
    model = new_model()
    t = replace(terms(), **change)  # type: ignore[arg-type]
    signer = t.debtor
    assert rejected(lambda: model.issue(t, signer=signer, caller=caller, now=T0)).error == error
    assert model.piece_count == 0 and not model.nonce_used(t.debtor, t.nonce)


def test_a_zero_fingerprint_is_refused_naming_the_parties() -> None:
    model = new_model()
    t = replace(terms(), fingerprint=bytes(32))
    error = rejected(lambda: model.issue(t, signer=CORE, caller=CORE, now=T0))
    assert (error.error, error.error_args) == ("ReceivablesFingerprintMissing", {"debtor": CORE, "creditor": TIER1})
    assert model.piece_count == 0


def test_issuance_needs_the_debtors_own_signature_and_a_fresh_nonce() -> None:
    model = new_model()
    error = rejected(lambda: model.issue(terms(), signer=TIER1, caller=TIER1, now=T0))
    assert error.error_args == {"expected": CORE, "recovered": TIER1}
    assert rejected(lambda: model.issue(terms(), signer=None, caller=TIER1, now=T0)).error == "ReceivablesInvalidSigner"
    issue(model, terms())
    assert rejected(lambda: issue(model, terms("INV-2", nonce=1))).error == "ReceivablesNonceUsed"


def open_account_orders() -> tuple[EscrowModel, int]:
    escrow = EscrowModel(escrow=ESCROW, currency=TOKEN, roster=roster())
    t = OrderTerms(CORE, TIER1, TOKEN, 3 * FACE, T0 + DAY, T0 + 2 * DAY, False, bytes(32), keccak(text="PO-1"), 1, T0)
    order_id = escrow.create_open_account_order(
        t, buyer_signer=CORE, supplier_signer=TIER1, caller=CORE, now=T0
    ).order_id
    assert order_id is not None
    return escrow, order_id


def test_a_receivable_for_an_order_needs_it_delivered_between_the_same_parties_and_within_its_amount() -> None:
    escrow, order_id = open_account_orders()
    model = new_model(escrow)
    linked = terms(order_id=order_id)
    assert rejected(lambda: issue(model, linked)).error == "ReceivablesOrderNotDelivered"
    for milestone in (Milestone.SHIPPED, Milestone.DELIVERED):
        escrow.attest(order_id, milestone, T0, keccak(text=milestone.name), [CARRIER], caller=STRANGER, now=T0)
    assert escrow.status_of(order_id) == OrderStatus.DELIVERED
    mismatch = rejected(lambda: issue(model, terms(order_id=order_id, creditor=TIER2)))
    assert mismatch.error == "ReceivablesOrderMismatch" and mismatch.error_args["supplier"] == TIER1
    issue(model, replace(linked, face_value=2 * FACE))
    over = rejected(lambda: issue(model, terms("INV-2", nonce=2, order_id=order_id, face_value=FACE + 1)))
    assert over.error_args == {"orderId": order_id, "faceValue": FACE + 1, "available": FACE}
    issue(model, terms("INV-2", nonce=2, order_id=order_id))
    assert model.issued_against_order(order_id) == 3 * FACE


def test_splits_lock_the_parent_and_any_depth_keeps_the_leaves_summing_to_face() -> None:
    model = new_model()
    root = issue(model)
    a, b = split(model, root, TIER1, (600_000, TIER1), (400_000, TIER2))
    c, d = split(model, b, TIER2, (250_000, TIER3), (150_000, TIER3))
    assert (model.piece(c).parent_id, model.piece(c).root_id) == (b, root)
    assert sorted(model.leaves(root)) == [a, c, d]
    assert rejected(lambda: model.transfer(root, TIER2, caller=TIER1, now=T0)).error == "ReceivablesPieceSplit"
    assert rejected(lambda: split(model, b, TIER2, (1, TIER3), (399_999, TIER3))).error == "ReceivablesPieceSplit"
    assert model.invariant_violations() == []


@pytest.mark.parametrize(
    ("parts", "error"),
    [
        ([(FACE, "tier2")], "ReceivablesInvalidSplitCount"),
        ([(0, "tier2"), (FACE, "tier3")], "ReceivablesZeroSplitAmount"),
        ([(1, "tier2"), (FACE, "tier3")], "ReceivablesSplitSumMismatch"),
        ([(1, "tier2"), (FACE - 2, "tier3")], "ReceivablesSplitSumMismatch"),
        ([(1, "tier2"), (FACE - 1, "stranger")], "ReceivablesRecipientNotMember"),
        ([(1, "zero"), (FACE - 1, "tier3")], "ERC721InvalidReceiver"),
    ],
)
def test_bad_splits_are_refused_and_change_nothing(parts: list[tuple[int, str]], error: str) -> None:
    who = {"tier2": TIER2, "tier3": TIER3, "stranger": STRANGER, "zero": "0x" + "00" * 20}
    model = new_model()
    root = issue(model)
    before = model.state()
    assert rejected(lambda: split(model, root, TIER1, *((n, who[w]) for n, w in parts))).error == error
    assert model.state() == before


def test_only_the_holder_splits_finances_or_claims() -> None:
    model = new_model()
    root = issue(model)
    assert rejected(lambda: split(model, root, TIER2, (1, TIER2), (FACE - 1, TIER3))).error == "ReceivablesNotHolder"
    assert rejected(lambda: model.finance(offer(root, 1), signer=BANK, caller=TIER2, now=T0)).error == (
        "ReceivablesNotHolder"
    )
    model.repay(root, FACE, caller=CORE, now=T0)
    assert rejected(lambda: model.claim(root, caller=TIER2, now=T0)).error == "ReceivablesNotHolder"
    assert rejected(lambda: model.claim(99, caller=TIER2, now=T0)).error == "ReceivablesUnknownPiece"


def test_financing_pays_the_seller_records_the_discount_and_happens_once_per_path() -> None:
    model = new_model()
    root = issue(model)
    _, b = split(model, root, TIER1, (600_000, TIER1), (400_000, TIER2))
    effect = model.finance(offer(b, 390_000), signer=BANK, caller=TIER2, now=T0)
    assert effect.transfers == (Transfer(TOKEN, BANK, TIER2, 390_000),)
    assert model.holder_of(b) == BANK and model.piece(b).financed
    assert discount_bps(400_000, 390_000, 90 * DAY) == 1013  # 2.5 % for 90 days, per year
    again = rejected(lambda: model.finance(offer(b, 1, BANK2), signer=BANK2, caller=BANK, now=T0))
    assert again.error == "ReceivablesAlreadyFinanced"
    c, _ = split(model, b, BANK, (1, BANK), (399_999, TIER3))
    assert model.piece(c).financed  # children of a financed piece count as financed
    assert rejected(lambda: model.finance(offer(c, 1, BANK2), signer=BANK2, caller=BANK, now=T0)).error == (
        "ReceivablesAlreadyFinanced"
    )
    assert model.invariant_violations() == []


@pytest.mark.parametrize(
    ("change", "caller", "error"),
    [
        ({"deadline": T0 - 1}, TIER1, "ReceivablesOfferExpired"),
        ({"bank": TIER2}, TIER1, "ReceivablesNotBank"),
        ({}, BANK, "ReceivablesNotHolder"),
        ({"price": 0}, TIER1, "ReceivablesInvalidPrice"),
        ({"price": FACE + 1}, TIER1, "ReceivablesInvalidPrice"),
    ],
)
def test_bad_offers_are_refused(change: dict[str, object], caller: str, error: str) -> None:
    model = new_model()
    root = issue(model)
    o = replace(offer(root, FACE // 2), **change)  # type: ignore[arg-type]
    assert rejected(lambda: model.finance(o, signer=o.bank, caller=caller, now=T0)).error == error


def test_an_offer_is_spent_once_and_never_after_maturity_default_or_repayment() -> None:
    model = new_model()
    first, second = issue(model), issue(model)
    model.finance(offer(first, 10), signer=BANK, caller=TIER1, now=T0)
    assert rejected(lambda: model.finance(offer(second, 10), signer=BANK, caller=TIER1, now=T0)).error == (
        "ReceivablesOfferReplayed"
    )
    maturity = model.root(second).maturity
    late = offer(second, 10, nonce=2, deadline=maturity)
    assert rejected(lambda: model.finance(late, signer=BANK, caller=TIER1, now=maturity)).error == "ReceivablesMatured"
    model.mark_defaulted(second, caller=STRANGER, now=maturity + 7 * DAY + 1)
    assert rejected(lambda: model.finance(late, signer=BANK, caller=TIER1, now=T0)).error == "ReceivablesRootDefaulted"
    third = issue(model)
    model.repay(third, FACE, caller=CORE, now=T0)
    assert rejected(lambda: model.finance(offer(third, 10, nonce=3), signer=BANK, caller=TIER1, now=T0)).error == (
        "ReceivablesRootRepaid"
    )


def test_repayments_are_claimed_pro_rata_and_the_contract_keeps_only_what_is_unclaimed() -> None:
    model = new_model()
    root = issue(model)
    a, b = split(model, root, TIER1, (333_333, TIER1), (666_667, TIER2))
    model.repay(root, 500_000, caller=CORE, now=T0)
    assert (model.claimable(a), model.claimable(b)) == (166_666, 333_333)
    assert model.claim(a, caller=TIER1, now=T0).transfers == (Transfer(TOKEN, RECEIVABLES, TIER1, 166_666),)
    assert model.held == 500_000 - 166_666
    assert rejected(lambda: model.claim(a, caller=TIER1, now=T0)).error == "ReceivablesNothingToClaim"
    over = rejected(lambda: model.repay(root, 500_001, caller=CORE, now=T0))
    assert over.error_args == {"rootId": root, "amount": 500_001, "outstanding": 500_000}
    model.repay(root, 500_000, caller=BANK, now=T0)
    model.claim(a, caller=TIER1, now=T0)
    model.claim(b, caller=TIER2, now=T0)
    assert model.held == 0 and model.status(root) == ReceivableStatus.REPAID
    assert model.root(root).claimed == FACE and model.invariant_violations() == []


def test_repay_and_default_need_a_root() -> None:
    model = new_model()
    root = issue(model)
    a, _ = split(model, root, TIER1, (1, TIER1), (FACE - 1, TIER2))
    assert rejected(lambda: model.repay(a, 1, caller=CORE, now=T0)).error_args == {"pieceId": a, "rootId": root}
    assert rejected(lambda: model.repay(0, 1, caller=CORE, now=T0)).error == "ReceivablesUnknownPiece"
    assert rejected(lambda: model.repay(root, 0, caller=CORE, now=T0)).error == "ReceivablesInvalidAmount"
    assert rejected(lambda: model.mark_defaulted(a, caller=CORE, now=T0)).error == "ReceivablesNotRoot"


def test_a_root_defaults_only_after_maturity_plus_grace_and_recoveries_stay_claimable() -> None:
    model = new_model()
    root = issue(model)
    after = model.root(root).maturity + 7 * DAY
    early = rejected(lambda: model.mark_defaulted(root, caller=STRANGER, now=after))
    assert early.error_args == {"rootId": root, "defaultableAfter": after, "nowTimestamp": after}
    model.repay(root, 100, caller=CORE, now=T0)
    model.mark_defaulted(root, caller=STRANGER, now=after + 1)
    assert model.status(root) == ReceivableStatus.DEFAULTED
    assert rejected(lambda: model.mark_defaulted(root, caller=STRANGER, now=after + 2)).error == (
        "ReceivablesRootDefaulted"
    )
    model.repay(root, FACE - 100, caller=CORE, now=after + 3)  # a recovery
    assert model.status(root) == ReceivableStatus.REPAID and model.claimable(root) == FACE


def test_only_an_admin_sets_the_grace_period_and_at_most_a_year() -> None:
    model = new_model()
    assert rejected(lambda: model.set_grace_period(DAY, caller=CORE)).error == "ReceivablesUnauthorized"
    assert rejected(lambda: model.set_grace_period(366 * DAY, caller=ADMIN)).error == "ReceivablesInvalidGracePeriod"
    model.set_grace_period(0, caller=ADMIN)
    root = issue(model)
    model.mark_defaulted(root, caller=STRANGER, now=model.root(root).maturity + 1)


def test_pieces_move_only_between_active_members_by_their_holder() -> None:
    model = new_model()
    root = issue(model)
    assert (
        rejected(lambda: model.transfer(root, STRANGER, caller=TIER1, now=T0)).error == "ReceivablesRecipientNotMember"
    )
    assert rejected(lambda: model.transfer(root, TIER2, caller=TIER3, now=T0)).error == "ERC721InsufficientApproval"
    assert rejected(lambda: model.transfer(9, TIER2, caller=TIER3, now=T0)).error == "ERC721NonexistentToken"
    model.roster.set_active(TIER2, False)
    assert rejected(lambda: model.transfer(root, TIER2, caller=TIER1, now=T0)).error == "ReceivablesRecipientNotMember"
    model.roster.set_active(TIER2, True)
    assert model.transfer(root, TIER2, caller=TIER1, now=T0).events == ("Transfer",)
    assert model.holder_of(root) == TIER2


def test_the_invariants_catch_books_that_do_not_add_up() -> None:
    model = new_model()
    root = issue(model)
    model.repay(root, 10, caller=CORE, now=T0)
    assert model.invariant_violations() == []
    model._held += 1  # what a bug in the model would look like
    assert any("holds" in problem for problem in model.invariant_violations())


def test_an_open_account_order_moves_no_money_and_a_failed_inspection_cancels_it() -> None:
    escrow = EscrowModel(escrow=ESCROW, currency=TOKEN, roster=roster())
    escrow.roster.set_member(party("inspector"), ROLE_ORACLE, OracleKind.INSPECTOR)
    t = OrderTerms(CORE, TIER1, TOKEN, FACE, T0 + DAY, T0 + 2 * DAY, True, bytes(32), keccak(text="PO-9"), 1, T0)
    effect = escrow.create_open_account_order(t, buyer_signer=CORE, supplier_signer=TIER1, caller=TIER1, now=T0)
    assert effect.events == ("OrderCreated", "OpenAccountOrderCreated") and escrow.is_open_account(1)
    for call in (
        lambda: escrow.fund(1, caller=CORE, now=T0),
        lambda: escrow.fund_with_permit(1, caller=CORE, now=T0),
        lambda: escrow.confirm_receipt(1, caller=CORE, now=T0),
        lambda: escrow.release(1, caller=CORE, now=T0),
        lambda: escrow.open_dispute(1, bytes(32), caller=CORE, now=T0),
    ):
        with pytest.raises(ModelRejected) as info:
            call()
        assert info.value.error == "TradeEscrowOpenAccountOrder"
    escrow.attest(1, Milestone.SHIPPED, T0, keccak(text="s"), [CARRIER], caller=STRANGER, now=T0)
    escrow.attest(1, Milestone.DELIVERED, T0, keccak(text="d"), [CARRIER], caller=STRANGER, now=T0)
    failed = escrow.attest(
        1, Milestone.INSPECTION_FAILED, T0, keccak(text="i"), [party("inspector")], caller=STRANGER, now=T0 + 5
    )
    assert failed.events == ("MilestoneAttested",) and failed.transfers == ()
    assert escrow.status_of(1) == OrderStatus.CANCELLED and escrow.order(1).closed_at == T0 + 5
    assert escrow.invariant_violations() == [] and escrow.held() == 0
