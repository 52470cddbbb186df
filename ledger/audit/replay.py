"""``scf audit replay``: re-read the chain, re-derive the ledger, compare, report.

The replay reads the node only (never the SQL projection):

1. every log of the deployed contracts, paged by ``ledger.eth.history.fetch_logs``, folded into the
   rolling ``HistoryDigest`` (the one line two auditors compare);
2. every block header of the range (batched ``eth_getBlockByNumber``): each block's
   ``parentHash`` must be the previous block's hash, and every log and transaction must name
   the hash of the block it is in;
3. every transaction that left a log (sender, target, calldata; see ``Rpc.block_transactions``
   for where they come from): its calldata is decoded by selector and replayed into the models
   (``ledger.audit.machine``) with the sender as caller and the block's timestamp as ``now``,
   every EIP-712 signature recovered under the contract's domain; the events the models
   predict, contract by contract and in order, must be the logged ones, the token transfers the
   logged ``Transfer``s, the recovered signers those the contract logged. A named signer that is a
   contract wallet is asked for its ERC-1271 answer instead, and a transaction sent to a contract
   outside the deployment (a wallet's ``execTransaction``) is replayed as the calls it made into the
   ledger, with the wallet as caller (``ledger.audit.wallets``: from call traces, or decoded);
4. at the last block, the models' state against the contracts' views (``ledger.audit.views``)
   and the models' own accounting invariants.

Transactions that left no log of the ledger changed nothing in it (a reverted call leaves no
log, and every state change of these contracts emits an event): they are counted, not
replayed; for those sent to a ledger contract, whether they reverted and their revert data
(``ledger.eth.refusals.outcomes``) are kept in the result, for the comparison with the
indexer's ``refused_calls`` (``ledger.audit.sql``). The models' state needs the whole history,
so the replay always starts from the deployment; ``from_block`` only narrows the digest.

Transactions are read block by block where most of a block's transactions left ledger logs
(from the node's call traces, ``trace_block``, where it keeps them: anvil serves those ten
times cheaper than full blocks; else ``eth_getBlockByNumber`` with full transactions), one by
one (``eth_getTransactionByHash``) in the other blocks (``ledger.audit.fetching``). Over HTTP a
reader process of its own (``ledger.audit.reader``) pages the logs, headers and transactions ahead
of the replay and, while the replay is the slower side, decodes the calls and recovers the
signatures their calldata gives, so that parsing the node's answers and replaying use two cores (``reader="thread"``: a
background thread pages and two more fetch the transactions, in this process); the views at the
end are read through a view reader lent to the node for the call (``ledger.eth.reader``).
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from eth_utils import keccak
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ledger.audit.errors import AuditError
from ledger.audit.fetching import FETCHERS, Inline, Page, pages, prefetched
from ledger.audit.machine import Replayer, Unmodelled
from ledger.audit.reader import ReaderProcess, ReaderSettings
from ledger.audit.report import Counts, Gap, Kind, Location, Mismatch, Report
from ledger.audit.state import (
    CONTRACTS,
    CREDIT,
    ESCROW,
    MEMBERSHIP,
    RECEIVABLES,
    TOKEN,
    LedgerModels,
    LedgerState,
    Outcome,
    merged,
)
from ledger.audit.views import Views, compare, state_checks
from ledger.audit.wallets import InnerCall, WalletSignatures, decoded_calls, traced_calls
from ledger.eth.abi import abi_type
from ledger.eth.artifacts import BuildResult
from ledger.eth.calldata import CalldataError, CallDecoder
from ledger.eth.chain import Chain
from ledger.eth.eip712 import domain_separator
from ledger.eth.history import HistoryDigest, LogDecoder, RawLog
from ledger.eth.reads import RawView
from ledger.eth.refusals import outcomes
from ledger.eth.rpc import Header, Rpc, RpcFailed, Tx
from ledger.gc_pause import collector_paused
from ledger.model.common import ModelError, ModelRejected, address


@dataclass(frozen=True)
class Deployment:
    """The ledger's contracts: name → address and ABI, and the block the first was deployed in."""

    chain_id: int
    addresses: Mapping[str, str]
    abis: Mapping[str, Sequence[Mapping[str, Any]]]
    start_block: int = 0

    @classmethod
    def of(cls, chain_id: int, addresses: Mapping[str, str], build: BuildResult, start_block: int = 0) -> Deployment:
        missing = [name for name in CONTRACTS if name not in addresses]
        if missing:
            raise AuditError(f"the deployment names no {', '.join(missing)}")
        return cls(
            chain_id,
            {name: address(addresses[name]) for name in CONTRACTS},
            {name: build[name].abi for name in CONTRACTS},
            start_block,
        )

    @classmethod
    def from_record(cls, record: Mapping[str, Any], build: BuildResult) -> Deployment:
        """From a deployment record (``deployments/<chainId>.json``): replay from its first block."""
        contracts: Mapping[str, Any] = record["contracts"]
        start = min(int(entry.get("blockNumber", 0)) for entry in contracts.values())
        addresses = {name: str(entry["address"]) for name, entry in contracts.items()}
        return cls.of(int(record["chainId"]), addresses, build, start)


@dataclass
class ReplayResult:
    """The report and the re-derived state at ``report.to_block``: what a later comparison (the
    SQL projection's rows) consumes: ``models`` (every order, dispute, piece, root, member,
    limit, balance), ``to_block_hash`` and ``to_block_timestamp`` (the indexer's cursor must
    name the same block), ``report.digest`` (over the same logs as the indexer's rows)."""

    report: Report
    models: LedgerModels
    to_block_timestamp: int
    domains: Mapping[str, Any] = field(default_factory=dict)
    #: With ``keep_logs``: every log the replay read, in chain order, and every header of the range
    #: (what a comparison with the indexer's ``events`` and ``blocks`` rows reads); else None and empty.
    logs: list[RawLog] | None = None
    headers: Mapping[int, Header] = field(default_factory=dict)
    #: The transactions to the deployed contracts that left no log (reverted, or changed nothing).
    quiet_calls: list[Tx] = field(default_factory=list)
    #: With ``keep_logs``: (block, digest after it, logs so far) for each block with logs of the digest's range.
    checkpoints: list[tuple[int, str, int]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.report.ok

    @property
    def state(self) -> LedgerState:
        """The re-derived state at ``report.to_block``, as plain data."""
        return self.models.state()


# -- block continuity ---------------------------------------------------------------------


def check_continuity(headers: Sequence[Header], previous: Header | None = None) -> list[Mismatch]:
    """Each header's ``parentHash`` must be the hash of the header before it (``previous`` first)."""
    found = []
    for header in headers:
        if previous is not None:
            if header.number != previous.number + 1:
                found.append(
                    Mismatch(
                        Kind.CONTINUITY,
                        Location(block=header.number),
                        previous.number + 1,
                        header.number,
                        "blocks out of sequence",
                    )
                )
            elif header.parent_hash != previous.hash:
                found.append(
                    Mismatch(
                        Kind.CONTINUITY,
                        Location(block=header.number),
                        previous.hash,
                        header.parent_hash,
                        f"parentHash of block {header.number} is not the hash of block {previous.number}",
                    )
                )
        previous = header
    return found


# -- the replay ---------------------------------------------------------------------------


class _Run:
    """One replay's state: the models, the decoders, the findings."""

    def __init__(
        self,
        deployment: Deployment,
        models: LedgerModels,
        replayer: Replayer,
        digest_from: int,
        keep: bool = False,
        *,
        rpc: Rpc,
        wallets: WalletSignatures,
    ) -> None:
        self.deployment = deployment
        self.rpc = rpc
        self.wallets = wallets
        self.ours = set(deployment.addresses.values())
        self.keep = keep
        self.kept_logs: list[RawLog] = []
        self.kept_headers: dict[int, Header] = {}
        self.checkpoints: list[tuple[int, str, int]] = []
        self.quiet_calls: list[Tx] = []
        self.models = models
        self.replayer = replayer
        self.digest_from = digest_from
        self.calls = CallDecoder(deployment.addresses, deployment.abis)
        self.logs = LogDecoder(deployment.addresses, deployment.abis)
        # (address, topic0) → (contract, event, "contract.event": the counts' key, spelled once)
        self.events: dict[tuple[str, str], tuple[str, str, str]] = {}
        for name, at in deployment.addresses.items():
            for item in deployment.abis[name]:
                if item.get("type") == "event" and not item.get("anonymous"):
                    signature = f"{item['name']}({','.join(abi_type(p) for p in item['inputs'])})"
                    event = str(item["name"])
                    self.events[(at, "0x" + keccak(text=signature).hex())] = (name, event, f"{name}.{event}")
        self.admitted = next(  # MemberAdmitted's topic: each page's new members are asked for code at once
            (topic for (at, topic), (c, e, _) in self.events.items() if c == MEMBERSHIP and e == "MemberAdmitted"),
            None,
        )
        self.digest = HistoryDigest(deployment.chain_id)
        self.counts = Counts()
        self.mismatches: list[Mismatch] = []
        self.gaps: list[Gap] = []
        self.quiet: list[tuple[Header, list[str]]] = []  # blocks with transactions that left no ledger log
        self.previous: Header | None = None
        self.decoded: Mapping[str, tuple[str, tuple[Any, ...]]] = {}  # the page's calls the reader decoded

    def page(self, page: Page, txs: Mapping[str, Tx]) -> None:
        headers = {h.number: h for h in page.headers}
        self.mismatches += check_continuity(page.headers, self.previous)
        if page.headers:
            self.previous = page.headers[-1]
            self.counts.blocks += len(page.headers)
        digest_from = self.digest_from
        self.replayer.recovered, self.decoded = page.signers, page.calls
        if self.keep:  # the digest after each block with logs, for the indexer's rows of recent blocks
            self.kept_logs.extend(page.logs)
            self.kept_headers.update(headers)
            counted = [raw for raw in page.logs if raw.block_number >= digest_from]
            start = 0
            while start < len(counted):
                number, end = counted[start].block_number, start + 1
                while end < len(counted) and counted[end].block_number == number:
                    end += 1
                self.digest.add_many(counted[start:end])
                self.checkpoints.append((number, self.digest.hex, self.digest.count))
                start = end
        else:
            self.digest.add_many(raw for raw in page.logs if raw.block_number >= digest_from)
        membership = self.deployment.addresses[MEMBERSHIP]
        self.wallets.prefetch(
            "0x" + raw.topics[1][26:]
            for raw in page.logs
            if raw.address == membership and len(raw.topics) > 1 and raw.topics[0] == self.admitted
        )
        with_logs: set[str] = set()
        start = 0
        logs = page.logs
        while start < len(logs):
            tx_hash = logs[start].tx_hash
            end = start + 1
            while end < len(logs) and logs[end].tx_hash == tx_hash:
                end += 1
            with_logs.add(tx_hash)
            self.transaction(txs[tx_hash], logs[start:end], headers[logs[start].block_number])
            start = end
        for header in page.headers:
            if header.number >= page.first:
                quiet = [h for h in header.transactions if h not in with_logs]
                if quiet:
                    self.quiet.append((header, quiet))

    def transaction(self, tx: Tx, logs: Sequence[RawLog], header: Header) -> None:
        first = logs[0]
        if tx.block_hash != header.hash or first.block_hash != header.hash:
            self.mismatches.append(
                Mismatch(
                    Kind.BLOCK_HASH,
                    Location(block=first.block_number, tx=tx.hash, log_index=first.log_index),
                    header.hash,
                    first.block_hash if first.block_hash != header.hash else tx.block_hash,
                    "the transaction or its logs name another block than the header read (a reorganisation?)",
                )
            )
        named: list[tuple[str, str, RawLog]] = []
        events, counted, digest_from = self.events, self.counts.events, self.digest_from
        for raw in logs:
            known = events.get((raw.address, raw.topics[0] if raw.topics else ""))
            if known is None:
                self.mismatches.append(
                    Mismatch(
                        Kind.UNKNOWN_EVENT,
                        Location(block=raw.block_number, tx=tx.hash, log_index=raw.log_index, contract=raw.address),
                        None,
                        raw.topics[0] if raw.topics else None,
                        "a log no ABI of the deployment explains",
                    )
                )
                continue
            named.append((known[0], known[1], raw))
            if raw.block_number >= digest_from:
                counted[known[2]] += 1
        contract = function = None
        self.wallets.block = header.number  # the block contract wallets' signatures are asked at
        inside = ""  # for a call from inside another contract's transaction: who made it, from where
        replayed: list[str] = []
        internal = tx.to is not None and tx.to not in self.ours
        try:
            if tx.to is None:
                contract = self.calls.contract_of.get(first.address)
                function = "constructor"
                if contract is None:
                    raise Unmodelled(f"the creation of {first.address}, not a contract of the deployment")
                args = self.calls.constructor_args(contract, tx.input)
                outcome = self.replayer.construct(contract, args, tx.sender, header.timestamp)
                replayed.append(f"{contract}.{function}")
            else:
                calls = self.inner_calls(tx) if internal else [InnerCall(tx.sender, tx.to, tx.input)]
                outcome = Outcome()
                for call in calls:
                    contract, function = self.calls.contract_of[call.to], None
                    if internal:
                        inside = f" (called by {call.sender} inside a transaction to {tx.to})"
                    ahead = None if internal else self.decoded.get(tx.hash)  # decoded by the reader process
                    if ahead is None:
                        fn = self.calls.function(call.to, call.input)
                        if fn is None:
                            raise Unmodelled(f"selector 0x{call.input[:4].hex()} is in no ABI of {contract}{inside}")
                        function, args = fn.name, fn.decode(call.input)
                    else:
                        function, args = ahead
                    part = self.replayer.apply(contract, function, args, call.sender, header.timestamp)
                    outcome = part if len(calls) == 1 else merged(outcome, part)
                    replayed.append(f"{contract}.{function}")
        except Unmodelled as gap:
            self.gaps.append(Gap(Location(first.block_number, tx.hash, first.log_index, contract, function), str(gap)))
            return
        except ModelRejected as rejected:
            self.mismatches.append(
                Mismatch(
                    Kind.REJECTED,
                    Location(first.block_number, tx.hash, first.log_index, contract, function),
                    f"revert {rejected}",
                    [f"{c}.{e}" for c, e, _ in named],
                    f"the models reject a transaction the chain mined successfully{inside}",
                )
            )
            return
        except (ModelError, CalldataError) as broken:
            self.mismatches.append(
                Mismatch(
                    Kind.MODEL_ERROR,
                    Location(first.block_number, tx.hash, first.log_index, contract, function),
                    None,
                    [f"{c}.{e}" for c, e, _ in named],
                    f"{type(broken).__name__}: {broken}",
                )
            )
            return
        self.counts.transactions += 1
        self.counts.signatures += outcome.signatures
        tally = self.counts.calls
        for name in replayed:
            tally[name] += 1
        if internal:
            self.counts.internal_calls += len(replayed)
        contract, function = replayed[0].split(".", 1)
        self.compare(tx, named, outcome, Location(first.block_number, tx.hash, None, contract, function))

    def inner_calls(self, tx: Tx) -> list[InnerCall]:
        """The calls into the ledger from inside ``tx``, sent to a contract outside the deployment: from
        its call traces where the node keeps them, else read off a Safe-style ``execTransaction``
        (``ledger.audit.wallets``); ``Unmodelled`` when neither finds them."""
        frames = self.rpc.call_frames(tx.hash)
        if frames is None:
            return decoded_calls(tx, self.ours)
        return traced_calls(tx, frames, self.ours)

    def compare(self, tx: Tx, named: list[tuple[str, str, RawLog]], outcome: Outcome, where: Location) -> None:
        by_contract: dict[str, list[tuple[str, RawLog]]] = {}
        for contract, event, raw in named:
            by_contract.setdefault(contract, []).append((event, raw))
        for contract in sorted(set(by_contract) | {c for c, names in outcome.events.items() if names}):
            logged = [event for event, _ in by_contract.get(contract, ())]
            predicted = outcome.events.get(contract, [])
            if logged != predicted:
                first_log = by_contract[contract][0][1].log_index if contract in by_contract else None
                self.mismatches.append(
                    Mismatch(
                        Kind.EVENTS,
                        Location(where.block, tx.hash, first_log, where.contract, where.function),
                        predicted,
                        logged,
                        f"{contract} emitted other events than the models predict",
                    )
                )
        moved = [
            (address("0x" + raw.topics[1][26:]), address("0x" + raw.topics[2][26:]), int(raw.data, 16))
            for event, raw in by_contract.get(TOKEN, ())
            if event == "Transfer" and len(raw.topics) == 3
        ]
        if moved != outcome.transfers:
            self.mismatches.append(
                Mismatch(
                    Kind.TRANSFERS,
                    where,
                    outcome.transfers,
                    moved,
                    "the settlement token moved other amounts than the models predict",
                )
            )
        for expectation in outcome.expect:
            matching = [raw for event, raw in by_contract.get(expectation.contract, ()) if event == expectation.event]
            if len(matching) <= expectation.nth:
                continue  # already an events mismatch
            raw = matching[expectation.nth]
            args = self.logs.decode_many([raw])[0].args
            for name, value in expectation.args.items():
                actual = args.get(name)
                if actual != value:
                    self.mismatches.append(
                        Mismatch(
                            Kind.EVENT_ARGS,
                            Location(where.block, tx.hash, raw.log_index, where.contract, where.function),
                            value,
                            actual,
                            f"{expectation.contract}.{expectation.event}.{name} differs from what the replay derives",
                        )
                    )


def _setup(rpc: Rpc, deployment: Deployment, block: int) -> tuple[str, list[Mismatch]]:
    """The token's name (its EIP-712 domain) and the wiring of the contracts, read at ``block``."""
    at, abis = deployment.addresses, deployment.abis
    wiring = [
        (ESCROW, "membership", at[MEMBERSHIP]),
        (ESCROW, "creditRegistry", at[CREDIT]),
        (RECEIVABLES, "membership", at[MEMBERSHIP]),
        (RECEIVABLES, "settlementToken", at[TOKEN]),
        (RECEIVABLES, "tradeEscrow", at[ESCROW]),
        (CREDIT, "currency", at[TOKEN]),
        (TOKEN, "membership", at[MEMBERSHIP]),
    ]
    views = [RawView.of(at[c], abis[c], name) for c, name, _ in wiring]
    name_view = RawView.of(at[TOKEN], abis[TOKEN], "name")
    answers = rpc.calls([v.request() for v in [*views, name_view]], block)
    found: list[Mismatch] = []

    def decoded(view: RawView, answer: bytes | RpcFailed) -> Any:
        if isinstance(answer, RpcFailed) or not answer:
            return None
        return view.decode(answer)[0]

    for (contract, name, expected), view, answer in zip(wiring, views, answers, strict=False):
        actual = decoded(view, answer)
        if actual is None or address(actual) != expected:
            found.append(
                Mismatch(Kind.WIRING, Location(block=block, contract=contract, view=name), expected, actual, "")
            )
    token_name = decoded(name_view, answers[-1])
    if token_name is None:
        raise AuditError(f"the settlement token at {at[TOKEN]} answers no name() at block {block}")
    return str(token_name), found


def _check_domains(rpc: Rpc, deployment: Deployment, replayer: Replayer, block: int) -> list[Mismatch]:
    """Each contract's ``DOMAIN_SEPARATOR()`` must be the domain the replay recovers signers under."""
    contracts = (ESCROW, RECEIVABLES, CREDIT, TOKEN)
    views = [RawView.of(deployment.addresses[c], deployment.abis[c], "DOMAIN_SEPARATOR") for c in contracts]
    answers = rpc.calls([v.request() for v in views], block)
    found = []
    for contract, view, answer in zip(contracts, views, answers, strict=True):
        expected = domain_separator(replayer.domains[contract])
        actual = None if isinstance(answer, RpcFailed) else view.decode(answer)[0]
        if actual != expected:
            found.append(
                Mismatch(
                    Kind.WIRING,
                    Location(block=block, contract=contract, view="DOMAIN_SEPARATOR"),
                    expected,
                    actual,
                    f"signatures are recovered under {replayer.domains[contract]}",
                )
            )
    return found


def _classify_quiet(rpc: Rpc, run: _Run) -> None:
    """Transactions in the range that left no log of the ledger: calls to its contracts
    (reverted, or changing nothing) and everything else. Blocks made mostly of them are read
    whole (cheap where the node keeps traces), the others' transactions one by one."""
    ours = set(run.deployment.addresses.values())
    whole = [header for header, quiet in run.quiet if 2 * len(quiet) >= len(header.transactions)]
    single = [h for header, quiet in run.quiet if 2 * len(quiet) < len(header.transactions) for h in quiet]
    wanted = {h for header, quiet in run.quiet for h in quiet}
    txs = [tx for tx in rpc.block_transactions(whole) if tx.hash in wanted]
    for start in range(0, len(single), 5_000):
        txs += rpc.transactions(single[start : start + 5_000])
    for tx in txs:
        if tx.to in ours:
            run.counts.quiet_calls += 1
            run.quiet_calls.append(tx)
        else:
            run.counts.other_transactions += 1
    # Whether each reverted, and its revert data: what the indexer's refused_calls rows say.
    run.quiet_calls = outcomes(rpc, run.quiet_calls)
    run.counts.reverted_calls = sum(1 for tx in run.quiet_calls if tx.reverted)


def replay(
    chain: Chain,
    deployment: Deployment,
    *,
    from_block: int | None = None,
    to_block: int | None = None,
    models: LedgerModels | None = None,
    progress: bool = False,
    check_views: bool = True,
    keep_logs: bool = False,
    signature_checks: Callable[[Rpc, int], WalletSignatures] | None = None,
    reader: Literal["process", "thread"] | None = None,
) -> ReplayResult:
    """Replay the ledger's history up to ``to_block`` (default: the latest block) and compare.

    ``keep_logs`` keeps every log and header read in the result (for ``ledger.audit.sql``).
    ``signature_checks(rpc, last_block)`` makes what asks contract wallets for their signatures
    (default: ``WalletSignatures``, the node's answers; a test passes one that answers otherwise).
    ``reader``: where the pages are read over HTTP: a forked process (``ledger.audit.reader``, the
    default) or threads of this one; in process (no HTTP) always inline."""
    started = time.perf_counter()
    if deployment.chain_id != chain.chain_id:
        raise AuditError(f"the deployment is of chain {deployment.chain_id}, the node is chain {chain.chain_id}")
    rpc = Rpc(chain)
    head = chain.block_number
    last = head if to_block is None else to_block
    if last > head:
        raise AuditError(f"--to-block {last} is beyond the chain's head {head}")
    digest_from = deployment.start_block if from_block is None else from_block
    if digest_from > last:
        raise AuditError(f"--from-block {digest_from} is after --to-block {last}")
    first = min(digest_from, deployment.start_block)
    timings: defaultdict[str, float] = defaultdict(float)

    token_name, mismatches = _setup(rpc, deployment, last)
    models = models if models is not None else LedgerModels(deployment.addresses)
    wallets = (signature_checks or WalletSignatures)(rpc, last)
    replayer = Replayer(models, deployment.chain_id, token_name, wallets)
    mismatches += _check_domains(rpc, deployment, replayer, last)
    run = _Run(deployment, models, replayer, digest_from, keep_logs, rpc=rpc, wallets=wallets)
    run.mismatches += mismatches
    timings["setup"] += time.perf_counter() - started

    console = Console(stderr=True)
    bar = (
        Progress(
            TextColumn("[bold]audit replay[/] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("blocks"),
            TimeElapsedColumn(),
            console=console,
        )
        if progress
        else None
    )
    addresses = sorted(deployment.addresses.values())
    kind = reader if reader is not None else "process" if rpc.batches else "thread"
    with contextlib.ExitStack() as stack:
        stack.enter_context(collector_paused())
        if kind == "process" and rpc.batches:  # forked before the progress bar's thread starts
            settings = ReaderSettings(
                deployment.chain_id, dict(deployment.addresses), dict(deployment.abis), first, last
            )
            read: Iterable[Page] = stack.enter_context(ReaderProcess(chain, settings, replayer))
        else:
            pool = stack.enter_context(
                ThreadPoolExecutor(FETCHERS, thread_name_prefix="audit-fetch") if rpc.batches else Inline()
            )
            read = pages(rpc, chain, addresses, first, last, pool)
            if rpc.batches:
                read = prefetched(read, depth=3)
        if bar is not None:
            stack.enter_context(bar)
        task = bar.add_task("logs", total=last - first + 1) if bar is not None else None
        replaying = time.perf_counter()
        for page in read:
            timings["logs_and_headers"] += page.seconds
            txs = page.transactions()
            run.page(page, txs)
            timings["waiting_for_transactions"] += txs.waited
            if bar is not None and task is not None:
                bar.update(task, completed=page.last - first + 1, description=f"{run.counts.transactions} transactions")
        timings["replay_and_wait"] += time.perf_counter() - replaying
        if isinstance(read, ReaderProcess):
            timings["waiting_for_reader"] += read.waited
        quiet_started = time.perf_counter()
        _classify_quiet(rpc, run)
        timings["quiet"] += time.perf_counter() - quiet_started

        header = rpc.headers(last, last)[0]
        if check_views:
            viewing = time.perf_counter()
            if bar is not None and task is not None:
                bar.update(task, description="views")
            checks = state_checks(Views(deployment.addresses, deployment.abis), models, header.timestamp)
            run.counts.views = len(checks)
            run.mismatches += compare(rpc, checks, last)
            timings["views"] += time.perf_counter() - viewing
    run.counts.logs = run.digest.count
    run.counts.code_lookups, run.counts.wallet_signatures = wallets.code_lookups, wallets.checks
    for contract, problem in models.invariant_violations():
        run.mismatches.append(Mismatch(Kind.INVARIANT, Location(block=last, contract=contract), None, None, problem))

    report = Report(
        chain_id=deployment.chain_id,
        from_block=digest_from,
        to_block=last,
        to_block_hash=header.hash,
        digest=run.digest.hex,
        counts=run.counts,
        mismatches=run.mismatches,
        gaps=run.gaps,
        seconds=time.perf_counter() - started,
        replayed_from=first,
        timings=dict(timings),
        addresses=dict(deployment.addresses),
    )
    run.quiet_calls.sort(key=lambda tx: (tx.block_number, tx.index))
    return ReplayResult(
        report,
        models,
        header.timestamp,
        dict(replayer.domains),
        run.kept_logs if keep_logs else None,
        run.kept_headers,
        run.quiet_calls,
        run.checkpoints,
    )
