"""CreditRegistry: bank-signed limits published by anyone, sequential bank nonces, expiry, revocation, and the
usable limit that TradeEscrow reads (zero once expired, revoked or while the bank is suspended)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from eth_utils import keccak

from ledger.clients.credit import CreditLimit
from ledger.eth import eip712
from ledger.toolchain.deploy import ROLE
from tests.support.deployments import Deployed
from tests.support.escrow import (
    DAY,
    HOUR,
    UNIT,
    ZERO_ADDRESS,
    ZERO_HASH,
    acct,
    addr,
    advance_to,
    assert_now,
    block_time,
    events_of,
    fixed_key,
    grant_of,
    high_s,
    mined_revert,
    passes_at,
    publish,
    registry_of,
    reinstate,
    revert_of,
    send,
    sign_in_domain,
    suspend,
    view,
)

LIMIT = 250_000 * UNIT


def record(deployed: Deployed, bank: str = "bank", party: str = "tier1") -> tuple[Any, ...]:
    """recordOf(bank, party) as (limit, score, grade, modelHash, validUntil, publishedAt)."""
    fn = registry_of(deployed).contract.functions.recordOf(addr(deployed, bank), addr(deployed, party))
    return tuple(view(deployed, fn))


def registry_state(deployed: Deployed, bank: str = "bank", party: str = "tier1") -> tuple[Any, ...]:
    registry = registry_of(deployed)
    bank_address, party_address = addr(deployed, bank), addr(deployed, party)
    return (
        registry.nonce(bank_address),
        record(deployed, bank, party),
        registry.limit_of(bank_address, party_address),
    )


def publish_fn(deployed: Deployed, grant: CreditLimit, signature: bytes) -> Any:
    return registry_of(deployed).contract.functions.publish(grant.as_tuple(), signature)


def refused(call: Any) -> tuple[str | None, dict[str, Any]]:
    caught = revert_of(call)
    return caught.error, caught.error_args


def refused_on_chain(deployed: Deployed, grant: CreditLimit, signature: bytes) -> tuple[str | None, dict[str, Any]]:
    """Mine the refused publication; the bank's nonce, the record and the usable limit stay as they were."""
    before = registry_state(deployed)
    caught = mined_revert(deployed, publish_fn(deployed, grant, signature), acct(deployed, "relayer"))
    assert registry_state(deployed) == before
    return caught.error, caught.error_args


# -- publish ----------------------------------------------------------------------------------


@pytest.mark.parity
def test_publish_by_anyone_with_the_banks_signature_records_the_limit(deployed: Deployed) -> None:
    grant = grant_of(deployed, limit=LIMIT, score=640, grade=3, valid_for=90 * DAY)

    receipt = publish(deployed, grant)  # relayed by a non-member

    bank, party = addr(deployed, "bank"), addr(deployed, "tier1")
    assert events_of(deployed, registry_of(deployed).contract, receipt) == [
        (
            "LimitPublished",
            {
                "bank": bank,
                "party": party,
                "limit": LIMIT,
                "score": 640,
                "grade": 3,
                "modelHash": keccak(text="scoring model v3"),
                "validUntil": grant.valid_until,
                "nonce": 0,
                "submitter": addr(deployed, "relayer"),
            },
        )
    ]
    assert record(deployed) == (
        LIMIT,
        640,
        3,
        keccak(text="scoring model v3"),
        grant.valid_until,
        block_time(deployed, receipt),
    )
    assert registry_of(deployed).limit_of(bank, party) == LIMIT
    assert registry_of(deployed).nonce(bank) == 1


def test_the_bank_may_publish_its_own_grant(deployed: Deployed) -> None:
    grant = grant_of(deployed)
    registry = registry_of(deployed)

    registry.publish(grant, registry.sign(acct(deployed, "bank"), grant), acct(deployed, "bank"))

    assert registry.limit_of(grant.bank, grant.party) == grant.limit


def test_a_newer_grant_replaces_the_record_and_nonces_run_in_sequence(deployed: Deployed) -> None:
    publish(deployed, grant_of(deployed, limit=LIMIT))
    publish(deployed, grant_of(deployed, party="tier2", limit=7 * UNIT))

    newer = grant_of(deployed, limit=LIMIT // 2, score=500, grade=5)
    assert newer.nonce == 2
    publish(deployed, newer)

    assert record(deployed)[:3] == (LIMIT // 2, 500, 5)
    assert registry_of(deployed).limit_of(addr(deployed, "bank"), addr(deployed, "tier2")) == 7 * UNIT
    assert registry_of(deployed).nonce(addr(deployed, "bank")) == 3


@pytest.mark.parametrize(
    ("published", "nonce"), [(0, 1), (0, 5), (1, 0), (2, 1)], ids=["skip", "leap", "replay", "stale"]
)
def test_a_grant_out_of_nonce_sequence_reverts_with_invalid_nonce_and_changes_nothing(
    deployed: Deployed, published: int, nonce: int
) -> None:
    for _ in range(published):
        publish(deployed, grant_of(deployed, limit=LIMIT))
    grant = grant_of(deployed, limit=3 * LIMIT, nonce=nonce)

    assert refused_on_chain(deployed, grant, registry_of(deployed).sign(acct(deployed, "bank"), grant)) == (
        "CreditRegistryInvalidNonce",
        {"bank": addr(deployed, "bank"), "nonce": nonce, "expected": published},
    )


def test_nonces_are_kept_per_bank(deployed: Deployed) -> None:
    second = fixed_key("second-bank")
    send(
        deployed,
        deployed.membership.functions.admit(second.address, ROLE["bank"], 0, keccak(text="kyc")),
        acct(deployed, "admin"),
    )
    publish(deployed, grant_of(deployed))

    grant = grant_of(deployed, bank=second.address, limit=5 * UNIT)
    publish(deployed, grant, signer=second)

    registry = registry_of(deployed)
    assert (grant.nonce, registry.nonce(second.address), registry.nonce(addr(deployed, "bank"))) == (0, 1, 1)
    assert registry.limit_of(second.address, addr(deployed, "tier1")) == 5 * UNIT


@pytest.mark.parametrize("valid_for", [-1, -30 * DAY, -(10**9)], ids=["just-expired", "month-old", "long-ago"])
def test_an_expired_grant_reverts_with_expired(deployed: Deployed, valid_for: int) -> None:
    grant = grant_of(deployed, valid_for=valid_for)
    before = deployed.chain.timestamp()

    error, args = refused(lambda: publish(deployed, grant))

    assert (error, args["validUntil"]) == ("CreditRegistryExpired", grant.valid_until)
    assert_now(deployed, args["nowTimestamp"], before)


@pytest.mark.parity
def test_a_grant_is_publishable_until_the_second_before_it_expires(deployed: Deployed) -> None:
    grant = grant_of(deployed, valid_for=DAY)
    fn = publish_fn(deployed, grant, registry_of(deployed).sign(acct(deployed, "bank"), grant))

    last_second = passes_at(deployed, grant.valid_until - 1, fn, acct(deployed, "relayer"))
    at_expiry = passes_at(deployed, grant.valid_until, fn, acct(deployed, "relayer"))

    assert (last_second, at_expiry) == (True, False)


@pytest.mark.parametrize("bank", ["core", "admin", "relayer"])
def test_a_grant_from_anyone_but_a_bank_reverts_with_not_bank(deployed: Deployed, bank: str) -> None:
    grant = grant_of(deployed, bank=bank, party="tier2")

    assert refused(lambda: publish(deployed, grant)) == ("CreditRegistryNotBank", {"bank": addr(deployed, bank)})


@pytest.mark.parity
def test_a_grant_from_a_suspended_bank_reverts_with_not_bank(deployed: Deployed) -> None:
    grant = grant_of(deployed)
    suspend(deployed, addr(deployed, "bank"))

    assert refused(lambda: publish(deployed, grant)) == ("CreditRegistryNotBank", {"bank": addr(deployed, "bank")})


@pytest.mark.parametrize("party", ["stranger", "relayer", "suspended"])
def test_a_grant_to_a_party_that_is_no_active_member_reverts_with_not_member(deployed: Deployed, party: str) -> None:
    if party == "suspended":
        suspend(deployed, addr(deployed, "tier1"))
        grant = grant_of(deployed)
    else:
        target = fixed_key("stranger").address if party == "stranger" else addr(deployed, "relayer")
        grant = grant_of(deployed, party=target)

    assert refused(lambda: publish(deployed, grant)) == ("CreditRegistryNotMember", {"party": grant.party})


# -- signatures -------------------------------------------------------------------------------


@pytest.mark.parametrize("signer", ["core", "tier1", "admin"])
def test_a_grant_signed_by_someone_but_its_bank_reverts_with_invalid_signer_and_changes_nothing(
    deployed: Deployed, signer: str
) -> None:
    grant = grant_of(deployed)
    signature = registry_of(deployed).sign(acct(deployed, signer), grant)

    assert refused_on_chain(deployed, grant, signature) == (
        "CreditRegistryInvalidSigner",
        {"bank": addr(deployed, "bank"), "signer": addr(deployed, signer)},
    )


@pytest.mark.parity
@pytest.mark.parametrize("domain", ["chainId", "verifyingContract", "name"])
def test_a_grant_signed_for_another_domain_reverts_with_invalid_signer_and_changes_nothing(
    deployed: Deployed, domain: str
) -> None:
    grant = grant_of(deployed)
    document = registry_of(deployed).document(grant)
    other = {
        "chainId": deployed.chain.chain_id + 1,
        "verifyingContract": deployed.addresses["TradeEscrow"],
        "name": "TradeEscrow",
    }[domain]
    signature = sign_in_domain(acct(deployed, "bank"), document, **{domain: other})

    assert refused_on_chain(deployed, grant, signature) == (
        "CreditRegistryInvalidSigner",
        {"bank": addr(deployed, "bank"), "signer": eip712.recover(document, signature)},
    )


@pytest.mark.parametrize("field", ["limit", "party", "validUntil", "score"])
def test_a_grant_submitted_with_other_terms_than_signed_reverts_with_invalid_signer(
    deployed: Deployed, field: str
) -> None:
    signed = grant_of(deployed)
    submitted = {
        "limit": replace(signed, limit=signed.limit * 10),
        "party": replace(signed, party=addr(deployed, "tier2")),
        "validUntil": replace(signed, valid_until=signed.valid_until + DAY),
        "score": replace(signed, score=999),
    }[field]
    signature = registry_of(deployed).sign(acct(deployed, "bank"), signed)
    recovered = eip712.recover(registry_of(deployed).document(submitted), signature)

    assert refused(lambda: registry_of(deployed).publish(submitted, signature, acct(deployed, "relayer"))) == (
        "CreditRegistryInvalidSigner",
        {"bank": addr(deployed, "bank"), "signer": recovered},
    )


@pytest.mark.parity
def test_a_high_s_grant_signature_reverts_with_invalid_signature_and_changes_nothing(deployed: Deployed) -> None:
    grant = grant_of(deployed)
    flipped = high_s(registry_of(deployed).sign(acct(deployed, "bank"), grant))
    assert eip712.recover(registry_of(deployed).document(grant), flipped) == addr(deployed, "bank")

    assert refused_on_chain(deployed, grant, flipped) == ("CreditRegistryInvalidSignature", {})


@pytest.mark.parametrize("signature", [b"", b"\x03" * 64, b"\x03" * 64 + b"\x1d"], ids=["empty", "64-bytes", "bad-v"])
def test_a_malformed_grant_signature_reverts_with_invalid_signature(deployed: Deployed, signature: bytes) -> None:
    grant = grant_of(deployed)

    assert refused(lambda: registry_of(deployed).publish(grant, signature, acct(deployed, "relayer"))) == (
        "CreditRegistryInvalidSignature",
        {},
    )


# -- revoke -----------------------------------------------------------------------------------


@pytest.mark.parity
def test_revoke_withdraws_the_limit_at_once_and_keeps_the_nonce(deployed: Deployed) -> None:
    publish(deployed, grant_of(deployed, limit=LIMIT))
    registry = registry_of(deployed)

    receipt = registry.revoke(addr(deployed, "tier1"), acct(deployed, "bank"))

    assert events_of(deployed, registry.contract, receipt) == [
        ("LimitRevoked", {"bank": addr(deployed, "bank"), "party": addr(deployed, "tier1")})
    ]
    assert registry_state(deployed) == (1, (0, 0, 0, ZERO_HASH, 0, 0), 0)


def test_revoke_touches_only_the_banks_own_grant_to_that_party(deployed: Deployed) -> None:
    publish(deployed, grant_of(deployed, limit=LIMIT))
    publish(deployed, grant_of(deployed, party="tier2", limit=LIMIT))

    registry_of(deployed).revoke(addr(deployed, "tier2"), acct(deployed, "bank"))

    assert registry_of(deployed).limit_of(addr(deployed, "bank"), addr(deployed, "tier1")) == LIMIT
    assert registry_of(deployed).limit_of(addr(deployed, "bank"), addr(deployed, "tier2")) == 0


def test_revoke_of_a_party_without_a_grant_still_emits_limit_revoked(deployed: Deployed) -> None:
    receipt = registry_of(deployed).revoke(ZERO_ADDRESS, acct(deployed, "bank"))

    assert events_of(deployed, registry_of(deployed).contract, receipt) == [
        ("LimitRevoked", {"bank": addr(deployed, "bank"), "party": ZERO_ADDRESS})
    ]


@pytest.mark.parametrize("caller", ["core", "relayer", "suspended-bank"])
def test_revoke_by_anyone_but_an_active_bank_reverts_with_not_bank(deployed: Deployed, caller: str) -> None:
    publish(deployed, grant_of(deployed, limit=LIMIT))
    if caller == "suspended-bank":
        suspend(deployed, addr(deployed, "bank"))
        caller = "bank"

    assert refused(lambda: registry_of(deployed).revoke(addr(deployed, "tier1"), acct(deployed, caller))) == (
        "CreditRegistryNotBank",
        {"bank": addr(deployed, caller)},
    )
    assert record(deployed)[0] == LIMIT


# -- limitOf ----------------------------------------------------------------------------------


@pytest.mark.parity
def test_limit_of_is_zero_once_expired_while_the_record_stays(deployed: Deployed) -> None:
    grant = grant_of(deployed, limit=LIMIT, valid_for=DAY)
    publish(deployed, grant)
    registry = registry_of(deployed)

    advance_to(deployed, grant.valid_until - HOUR)
    assert registry.limit_of(grant.bank, grant.party) == LIMIT
    advance_to(deployed, grant.valid_until + 1)

    assert registry.limit_of(grant.bank, grant.party) == 0
    assert record(deployed)[0] == LIMIT


def test_limit_of_is_zero_while_the_bank_is_suspended(deployed: Deployed) -> None:
    publish(deployed, grant_of(deployed, limit=LIMIT))
    registry, bank, party = registry_of(deployed), addr(deployed, "bank"), addr(deployed, "tier1")

    suspend(deployed, bank)
    assert registry.limit_of(bank, party) == 0

    reinstate(deployed, bank)
    assert registry.limit_of(bank, party) == LIMIT


def test_limit_of_is_zero_when_the_bank_loses_the_bank_role(deployed: Deployed) -> None:
    publish(deployed, grant_of(deployed, limit=LIMIT))
    bank = addr(deployed, "bank")

    send(deployed, deployed.membership.functions.setRoles(bank, ROLE["core"], 0), acct(deployed, "admin"))

    assert registry_of(deployed).limit_of(bank, addr(deployed, "tier1")) == 0


def test_limit_of_a_pair_never_granted_is_zero(deployed: Deployed) -> None:
    publish(deployed, grant_of(deployed, limit=LIMIT))

    assert registry_of(deployed).limit_of(addr(deployed, "bank"), addr(deployed, "tier2")) == 0
    assert registry_of(deployed).limit_of(addr(deployed, "core"), addr(deployed, "tier1")) == 0


@pytest.mark.parity
def test_currency_and_domain_separator_name_the_deployment(deployed: Deployed) -> None:
    fns = registry_of(deployed).contract.functions
    domain_type = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
    separator = keccak(
        domain_type
        + keccak(text="CreditRegistry")
        + keccak(text="1")
        + deployed.chain.chain_id.to_bytes(32, "big")
        + bytes(12)
        + bytes.fromhex(deployed.addresses["CreditRegistry"][2:])
    )

    assert view(deployed, fns.currency()) == deployed.addresses["SettlementToken"]
    assert view(deployed, fns.DOMAIN_SEPARATOR()) == separator
    assert registry_of(deployed).nonce(addr(deployed, "bank")) == 0
