"""Pre-shipment finance in a played world: a supplier draws part of an escrowed order before it ships.

Trade Assurance's assured pre-payment (``TradeEscrow.requestPrepayment``): the buyer's escrow pays
the supplier part of a funded order early, guaranteed by a bank. The bank signs a
``PrepaymentOffer`` with its fee, the supplier submits it, and the escrow pays the supplier the
amount less the fee and the bank its fee. The bank's pool reserves the whole amount until the
order ends. If the supplier then does not deliver (it failed, or the goods were lost or refused),
the buyer is refunded in full and the pool pays what the escrow no longer holds
(``GuaranteeClaimed``). That is the supplier's shortfall to the bank.

* **Limits and pools.** A bank guarantees only a supplier it published a ``CreditRegistry`` limit
  for, up to that limit less what it guarantees the supplier already, and only from its pool. At
  setup each bank funds a pool of ``POOL_SHARE`` of the plan's escrowed amounts. The policy bank
  publishes the shipped model's limit for every scored supplier after each weekly refresh where it
  changed or its validity runs out within a week, valid for the model's validity. This is what
  ``scf score --publish`` signs. The flat bank has no score: at setup it publishes one limit,
  ``FLAT_LIMIT``, for every supplier, valid until after the world ends. The tier-1 bank offers no
  pre-shipment finance.
* **Who asks.** In the week an escrowed order is funded, its supplier asks for ``PREPAY_SHARE`` of
  the amount, with a chance by its tier (``ASK_RATE``). The draws come from their own random stream,
  so the rest of the play draws what it drew before. A supplier that has failed asks nothing. A
  supplier that is about to fail does ask: that is the risk the guarantee prices.
* **Price.** Every bank answers (``scenarios.market.best_prepayment``) within its room on chain,
  and the supplier takes the lowest fee. The tenor runs to the order's deliverBy plus the escrow's
  claim window, the latest a refund can call the guarantee.
* **Recovery.** A supplier still in business repays its shortfall the week after the claim
  (``ShortfallRepaid``), as far as its balance allows. A failed supplier never repays. What the
  pool paid and was not repaid is the bank's loss, counted from the chain (``scenarios.returns``).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from eth_utils import keccak

from ledger.clients.credit import CreditLimit, CreditRegistryClient
from ledger.domain.escrow import PrepaymentOffer
from ledger.eth.batch import Call
from ledger.eth.eip712 import sign_typed_data
from ledger.eth.history import RawLog
from ledger.eth.reads import RawView, ViewBatch
from scenarios.desk import LiveOrder
from scenarios.financing import FinancingDesk
from scenarios.market import FLAT, POLICY, TIER_ONE, PolicyBank, PrepaymentAsk, Room, TierOneBank, best_prepayment
from scenarios.world import CORE, DAY, MONTH, UNIT

#: Share of an order's amount a supplier asks to draw before shipment.
PREPAY_SHARE_BPS = 5_000
#: Chance a week that the supplier of a newly funded escrowed order asks for pre-payment, by its tier.
ASK_RATE = {1: 0.25, 2: 0.5, 3: 0.6}
#: Each bank's guarantee pool: this share of the plan's escrowed amounts (in bps).
POOL_SHARE_BPS = 2_500
#: The one limit the flat bank publishes for every supplier.
FLAT_LIMIT = 200_000 * UNIT
#: TradeEscrow's default claim window: a delivered order can be refunded until this long after delivery.
CLAIM_WINDOW = 30 * DAY
#: Republish a limit whose validity ends within this long.
RENEW_WITHIN = 7 * DAY


class PrepaymentDesk(FinancingDesk):
    """The pre-shipment moves of a play: pools and published limits, asks, offers, shortfalls repaid."""

    def pool_size(self) -> int:
        escrowed = sum(o.amount for o in self.plan.orders if not o.open_account)
        return escrowed * POOL_SHARE_BPS // 10_000

    def kind_of(self, index: int) -> str:
        bank = next(b for i, b in self.market if i == index)
        if isinstance(bank, PolicyBank):
            return POLICY
        return TIER_ONE if isinstance(bank, TierOneBank) else FLAT

    def guarantors(self) -> list[int]:
        """The banks that offer pre-shipment finance: the one that prices by policy and the flat one."""
        return [i for i, _ in self.market if self.kind_of(i) in (POLICY, FLAT)]

    def open_pools(self) -> None:
        """At setup: each guarantor funds its pool; the flat bank publishes its one limit for every supplier."""
        self._registry = CreditRegistryClient(self.chain, self.build, self.addresses["CreditRegistry"])
        self._published: dict[tuple[int, str], tuple[int, int]] = {}  # (bank, supplier) -> (limit, valid until)
        self._exposure: Counter[tuple[int, str]] = Counter()
        self._shortfall: Counter[tuple[int, str]] = Counter()
        self._synced = self.head()
        self._registry_nonce: dict[int, int] = {}  # the next publish nonce of each bank: only this play publishes
        self._pool_view = RawView.of(self.escrow.address, self.build["TradeEscrow"].abi, "pool")
        self._balance_view = RawView.of(self.token, self.build["SettlementToken"].abi, "balanceOf")
        self._prepay_rng = random.Random(self.world.config.key_material() + "/prepayment")
        self._prepay_nonce: Counter[int] = Counter()
        calls = []
        for index in self.guarantors():
            bank = self.acct(index)
            calls.append(Call.from_call(self.escrow.calls.fund_pool(self.pool_size()), bank, label="guarantee pool"))
        self.send("setup", calls)
        end = self.plan.tick_time(self.plan.ticks) + 90 * DAY
        for index in self.guarantors():
            if self.kind_of(index) == FLAT:
                self._publish(index, [(s.address, FLAT_LIMIT, 0, 0) for s in self.world.suppliers], end)

    def _publish(self, index: int, grants: Sequence[tuple[str, int, int, int]], valid_until: int) -> None:
        """Sign and publish (party, limit, score, grade code) as bank ``index``, in its nonce order."""
        if not grants:
            return
        bank = self.acct(index)
        nonce = self._registry_nonce.get(index)
        if nonce is None:
            nonce = self._registry.nonce(bank.address)
        model_hash = bytes.fromhex(self.credit.version[2:]) if self.kind_of(index) == POLICY else bytes(32)
        calls = []
        for party, limit, score, grade in grants:
            grant = CreditLimit(bank.address, party, limit, score, grade, model_hash, valid_until, nonce)
            signature = sign_typed_data(bank, self._registry.document(grant))  # eth-account's signature, sooner
            calls.append(Call.from_call(self._registry.calls.publish(grant, signature), bank, label="limit"))
            self._published[(index, party)] = (limit, valid_until)
            nonce += 1
        self._registry_nonce[index] = nonce
        # One sender, so the node mines them in its nonce order, as the registry requires.
        self.send("limits", calls)

    def refresh_credit(self) -> None:
        """Decide again; then the policy bank publishes the limits that changed or are about to lapse."""
        super().refresh_credit()
        if self.credit.as_of_time is None:
            return
        # Valid from the decision's as-of time, as ``scf score --publish`` signs, so that an auditor finds the
        # as-of point again from the limit alone (``scoring.audit``).
        valid_until = self.credit.as_of_time + int(self.credit.model.validity)
        for index in self.guarantors():
            if self.kind_of(index) != POLICY:
                continue
            grants = []
            for supplier in self.world.suppliers:
                decision = self.credit.decision(supplier.address)
                if decision is None or not decision.scored:
                    continue
                had = self._published.get((index, supplier.address))
                lapsing = had is not None and had[1] - self.now < RENEW_WITHIN
                if had is None or had[0] != decision.limit or lapsing:
                    grants.append((supplier.address, decision.limit, int(decision.score or 0), decision.grade_code))
            self._publish(index, grants, valid_until)

    def _sync(self) -> None:
        """What each guarantee stands at, from the escrow's events since the last read (whoever sent them:
        a failed inspection's refund is an oracle's transaction)."""
        head = self.head()
        if head <= self._synced:
            return
        query = {
            "fromBlock": hex(self._synced + 1),
            "toBlock": hex(head),
            "address": self.escrow.address,
            "topics": [[_topic(self.build["TradeEscrow"].abi, name) for name in _GUARANTEE_EVENTS]],
        }
        by_address = {self.acct(i).address: i for i in self.banks}
        for log in self.decoder.decode_many(RawLog.of(raw) for raw in self.dev_rpc("eth_getLogs", [query])):
            a = log.args
            key = (by_address[a["guarantor"]], a["supplier"])
            amount = int(a["amount"])
            if log.event == "PrepaymentReleased":
                self._exposure[key] += amount
            elif log.event == "ExposureReleased":
                self._exposure[key] -= amount
            elif log.event == "GuaranteeClaimed":
                self._shortfall[key] += amount
            elif log.event == "ShortfallRepaid":
                self._shortfall[key] -= amount
        self._synced = head

    def room(self, index: int, supplier: str, pools: dict[int, int], exposure: Counter[tuple[int, str]]) -> Room:
        if index not in pools:
            return Room(None, 0, 0)
        had = self._published.get((index, supplier))
        limit = had[0] if had is not None and had[1] > self.now else None
        return Room(limit, exposure[(index, supplier)], pools[index])

    def prepay(self, funded: Sequence[LiveOrder]) -> None:
        """Live suppliers repay their shortfalls; suppliers of this week's funded orders ask, and draw from the
        lowest fee."""
        self._sync()
        # The shortfalls' balances and the pools, in one round trip: nothing is mined between these reads.
        owing = [(key, owed) for key, owed in sorted(self._shortfall.items()) if owed > 0]
        owing = [(key, owed) for key, owed in owing if not self.failed(self._index_of(key[1]))]
        guarantors = self.guarantors()
        reads = [(self._balance_view, (supplier,)) for (_, supplier), _ in owing]
        reads += [(self._pool_view, (self.acct(i).address,)) for i in guarantors]
        answers = ViewBatch(self.chain).read(reads)
        balances = [int(a[0]) for a in answers[: len(owing)]]
        pools = {i: int(a[0]) for i, a in zip(guarantors, answers[len(owing) :], strict=True)}
        calls = self._repay_shortfalls(owing, balances)
        exposure = Counter(self._exposure)  # this week's draws count at once; the chain says so once mined
        for live in funded:
            p = live.plan
            supplier = self.party(p.supplier)
            if supplier.tier is None or self.failed(p.supplier) or live.order_id == 0:
                continue
            if self._prepay_rng.random() >= ASK_RATE[supplier.tier]:
                continue
            buyer = self.party(p.buyer)
            ask = PrepaymentAsk(
                live.order_id,
                (self.now - self.plan.start) // MONTH,
                supplier.address,
                supplier.tier,
                buyer.address,
                buyer.kind == CORE,
                p.amount * PREPAY_SHARE_BPS // 10_000,
                self.now,
                p.deliver_by + CLAIM_WINDOW,
            )
            rooms = {i: self.room(i, supplier.address, pools, exposure) for i, _ in self.market}
            best = best_prepayment(self.market, ask, rooms)
            if best is None:
                continue
            index, fee = best
            pools[index] -= ask.amount
            exposure[(index, supplier.address)] += ask.amount
            bank = self.acct(index)
            nonce = self._prepay_nonce[index]
            self._prepay_nonce[index] += 1
            offer = PrepaymentOffer(live.order_id, bank.address, ask.amount, fee, self.now + 2 * DAY, nonce)
            signature = sign_typed_data(bank, self.escrow.prepayment_offer_document(offer))
            call = self.escrow.calls.request_prepayment(offer, signature)
            calls.append(Call.from_call(call, self.acct(p.supplier), label=f"prepay {live.order_id}"))
        self.send("prepayment", calls)

    def _repay_shortfalls(self, owing: Sequence[tuple[tuple[int, str], int]], balances: Sequence[int]) -> list[Call]:
        """A supplier still in business repays what the pools paid for it, as far as its balance goes."""
        calls = []
        for ((index, supplier), owed), balance in zip(owing, balances, strict=True):
            amount = min(owed, balance)
            if amount > 0:
                call = self.escrow.calls.repay_shortfall(supplier, self.acct(index).address, amount)
                calls.append(Call.from_call(call, self.acct(self._index_of(supplier)), label="repay shortfall"))
        return calls


_GUARANTEE_EVENTS = ("PrepaymentReleased", "ExposureReleased", "GuaranteeClaimed", "ShortfallRepaid")


def _topic(abi: Sequence[Mapping[str, Any]], name: str) -> str:
    entry = next(e for e in abi if e.get("type") == "event" and e.get("name") == name)
    signature = f"{name}({','.join(i['type'] for i in entry['inputs'])})"
    return "0x" + keccak(text=signature).hex()
