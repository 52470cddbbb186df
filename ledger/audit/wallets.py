"""Contract-wallet parties in the replay: their ERC-1271 signatures, and their calls into the ledger.

A party may be a contract wallet (a Safe, a smart account): the ledger's contracts then ask it
whether a signature is its own, and it reaches the ledger from inside a transaction of its own.
The replay must see both as the chain did, or an honest history reads as forged.

**Signatures** (``WalletSignatures``). Where a contract checks a *named* signer (an order's buyer
and supplier, a settlement's parties, a pre-payment offer's guarantor, a receivable's debtor, a
finance offer's bank, a credit limit's bank), it decides as OpenZeppelin's ``SignatureChecker``
does: a signer without code is a key (ECDSA recovery), a signer with code answers
``isValidSignature(digest, signature)`` and only the ERC-1271 magic value ``0x1626ba7e`` in the
answer's first word is a yes (a revert, another answer, or garbage is a no: the contract reverts
``...InvalidSigner(expected, 0)``). The replayer (``ledger.audit.machine``) asks this class,
through the callback its constructor takes, for each named signer; oracle attestations and
permits stay ECDSA-only, as the contracts keep them (a quorum is counted from recovered signers;
OpenZeppelin's ``ERC20Permit`` recovers).

* *Has the signer code?* Asked once per address (``eth_getCode`` at the replay's last block, in
  one batch for the members each page of the history admits: the parties that will sign): an
  address without code then had none at any earlier block of the range either (code appears by
  deployment and, since Cancun, never leaves a later block), so a key costs one lookup for the
  whole replay. An address with code there is asked again at the block of its first signature:
  it had code from then on. Only a signature that names it before its deployment asks once more.
  The test is the code at the end of the transaction's block, where the contract read it during
  the transaction: the two differ only for a wallet deployed later in that same block, which
  would mean an ECDSA signature had recovered to an address nobody holds the key of.
* *Its answer* is an ``eth_call`` of ``isValidSignature`` from the contract that asked (a wallet
  may read ``msg.sender``: ERC-7739 smart accounts do), with the gas bound of
  ``ledger.eth.signatures``, **on the state before the transaction's block** (block - 1): a
  node's ``eth_call`` runs on the state after a whole block, and the state just before a
  transaction inside a block is no block's. This is honest because a wallet's answer depends on
  its state, which only transactions change: block - 1 differs from the moment the contract
  asked only by the transactions before it in the same block (on a devnet that mines each
  transaction alone, by nothing). What it misses: a change to the wallet earlier in that block
  (owners or threshold changed, a message approved or revoked, a module enabled), and an answer
  that reads the block's time or number (it sees block - 1's). Only transactions the chain mined
  successfully are replayed, so the chain's answer was yes; a miss shows as a mismatch (the
  models reject a mined transaction, naming the wallet as expected signer), to be explained by
  that block's earlier transactions, never as a silent pass.

**Internal calls** (``traced_calls``, ``decoded_calls``). A transaction sent to a contract that
is not part of the deployment (a wallet's ``execTransaction``, a relayer, a batcher) but that left
ledger logs called into the ledger from inside. Where the node keeps call traces
(``trace_transaction``), each call frame into a ledger contract is replayed, in the order they
ran, with the frame's ``from`` (the wallet) as caller; skipped are frames that reverted, or sit
under one that did (a nested call that failed inside a successful wrapper left no logs), reads
(``staticcall``), ``delegatecall``s (ledger code run in another contract's storage logs at that
contract's address, never the ledger's), and frames inside a ledger call (the token moves the
escrow makes are the escrow's model's to predict). Without traces, the common case still decodes:
a Safe-style ``execTransaction`` (the test wallet's four-argument one and Safe's ten-argument
one) with ``operation`` 0 (CALL) straight into a ledger contract is one call from the wallet.
That is a reading of the calldata, not of the execution: the logs the transaction left must then
be exactly the events the models predict for it, so a wrapper that did anything else to the
ledger shows as a mismatch, not as a pass. Anything else (a ``delegatecall``, a call to another
wrapper, an unknown wrapper) is an ``Unmodelled`` gap that names the wallet and says traces are
needed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_abi.exceptions import DecodingError

from ledger.audit.machine import Unmodelled
from ledger.domain.addresses import address
from ledger.eth.keccak import keccak
from ledger.eth.rpc import Rpc, RpcFailed, Tx, hex_str
from ledger.eth.signatures import CALL_GAS, MAGIC_VALUE

# -- ERC-1271 signatures ------------------------------------------------------------------------


class WalletSignatures:
    """The replayer's signature check: ``None`` for a key (ECDSA decides), else the wallet's yes or no.

    ``block`` is the block of the transaction being replayed (the replay sets it before each);
    ``last_block`` the replay's last block. Counts for the report: ``code_lookups`` (``eth_getCode``
    asked), ``checks`` (``isValidSignature`` asked), ``refused`` (of which answered no)."""

    def __init__(self, rpc: Rpc, last_block: int) -> None:
        self.rpc = rpc
        self.last_block = last_block
        self.block = last_block
        self._keys: set[str] = set()  # no code at the last block: keys for the whole replay
        self._code_from: dict[str, int] = {}  # a wallet → the earliest block it is known to have code at
        self._no_code_at: dict[str, int] = {}  # a wallet → the latest block it is known to have had none at
        self.code_lookups = 0
        self.checks = 0
        self.refused = 0

    def __call__(self, verifier: str, signer: str, digest: bytes, signature: bytes) -> bool | None:
        if not self.has_code(signer, self.block):
            return None
        return self.accepts(verifier, signer, digest, signature, self.block)

    def prefetch(self, accounts: Iterable[str]) -> None:
        """Look up at once (one batch) whether each of ``accounts`` has code at the last block: the
        replay passes the members each page admits, the parties that will sign."""
        todo = sorted({address(a) for a in accounts} - self._keys - self._code_from.keys())
        if todo:
            self.code_lookups += len(todo)
            codes = self.rpc.many("eth_getCode", [[a, hex(self.last_block)] for a in todo])
            for account, code in zip(todo, codes, strict=True):
                self._learn(account, len(hex_str(code)) > 2)

    def _learn(self, account: str, code_at_last_block: bool) -> None:
        if code_at_last_block:
            self._code_from[account] = self.last_block
        else:
            self._keys.add(account)

    def has_code(self, account: str, block: int) -> bool:
        """Whether ``account`` had code once ``block`` was applied (see the module notes)."""
        account = address(account)
        if account in self._keys:
            return False
        if account not in self._code_from:
            self.code_lookups += 1
            self._learn(account, bool(self.rpc.code(account, self.last_block)))
            if account in self._keys:
                return False
        if block >= self._code_from[account]:
            return True
        if block <= self._no_code_at.get(account, -1):
            return False
        self.code_lookups += 1
        if self.rpc.code(account, block):
            self._code_from[account] = block
            return True
        self._no_code_at[account] = block
        return False

    def accepts(self, verifier: str, wallet: str, digest: bytes, signature: bytes, block: int) -> bool:
        """``wallet``'s ERC-1271 answer, asked as ``verifier`` on the state before ``block``."""
        self.checks += 1
        data = MAGIC_VALUE + abi_encode(["bytes32", "bytes"], [digest, signature])
        request = {"from": address(verifier), "to": address(wallet), "data": "0x" + data.hex(), "gas": hex(CALL_GAS)}
        answer = self.rpc.call_at(request, max(0, block - 1))
        # What SignatureChecker reads: at least a word, whose bytes32 is the selector left-aligned.
        yes = not isinstance(answer, RpcFailed) and answer[:32] == MAGIC_VALUE.ljust(32, b"\x00")
        self.refused += not yes
        return yes


# -- internal calls -------------------------------------------------------------------------------


@dataclass(frozen=True)
class InnerCall:
    """A call into a ledger contract from inside a transaction: ``sender`` (the wallet) called ``to``
    with ``input``; ``path`` is its frame's ``traceAddress`` (empty when decoded from calldata)."""

    sender: str
    to: str
    input: bytes
    path: tuple[int, ...] = ()


def _under(path: tuple[int, ...], roots: Sequence[tuple[int, ...]]) -> bool:
    return any(path[: len(root)] == root for root in roots)


def traced_calls(tx: Tx, frames: Sequence[Mapping[str, Any]], ours: set[str]) -> list[InnerCall]:
    """The calls into ``ours`` (the ledger's addresses) among ``tx``'s call ``frames`` that changed
    the ledger (see the module notes), in the order they ran."""
    failed: list[tuple[int, ...]] = []
    taken: list[tuple[int, ...]] = []
    found: list[InnerCall] = []
    for frame in frames:
        path = tuple(int(i) for i in frame.get("traceAddress") or ())
        if frame.get("error") is not None:
            failed.append(path)
        if frame.get("type") != "call" or _under(path, failed) or _under(path, taken):
            continue
        action = frame.get("action") or {}
        if str(action.get("callType", "call")).lower() != "call" or not action.get("to"):
            continue
        to = address(str(action["to"]))
        if to not in ours:
            continue
        data = str(action.get("input") or "0x")
        taken.append(path)
        found.append(InnerCall(address(str(action["from"])), to, bytes.fromhex(data[2:]), path))
    if not found:
        raise Unmodelled(
            f"sent to {tx.to}, not a contract of the deployment: it left logs of the ledger, but no call "
            "into the ledger that did not revert appears in its traces"
        )
    return found


def _selector(signature: str) -> bytes:
    return keccak(signature.encode())[:4]


#: ``execTransaction`` of a Safe-like wallet: (argument types, index of to/value/data, of operation or None).
SAFE_STYLE: Final[dict[bytes, tuple[list[str], int | None]]] = {
    # The test wallet's (tests/contracts/wallets/MultisigWallet.sol): to, value, data, signatures.
    _selector("execTransaction(address,uint256,bytes,bytes)"): (["address", "uint256", "bytes", "bytes"], None),
    # Safe's (v1.x): to, value, data, operation, safeTxGas, baseGas, gasPrice, gasToken, refundReceiver, signatures.
    _selector("execTransaction(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,bytes)"): (
        ["address", "uint256", "bytes", "uint8", "uint256", "uint256", "uint256", "address", "address", "bytes"],
        3,
    ),
}


def decoded_calls(tx: Tx, ours: set[str]) -> list[InnerCall]:
    """Without traces: ``tx``'s one call into ``ours`` read off a Safe-style ``execTransaction``
    (operation CALL, straight into a ledger contract); ``Unmodelled`` naming the wallet otherwise."""
    wallet = tx.to
    needs = "the node keeps no call traces (trace_transaction), which the replay needs to find them"
    layout = SAFE_STYLE.get(bytes(tx.input[:4]))
    if wallet is None or layout is None:
        raise Unmodelled(
            f"sent to {wallet}, not a contract of the deployment: its calls into the ledger are internal; {needs}"
        )
    types, operation_at = layout
    try:
        args = abi_decode(types, bytes(tx.input[4:]))
    except (DecodingError, ValueError, OverflowError) as exc:
        raise Unmodelled(f"the execTransaction sent to {wallet} does not decode ({exc}); {needs}") from None
    to, data = address(str(args[0])), bytes(args[2])
    if operation_at is not None and int(args[operation_at]) != 0:
        raise Unmodelled(
            f"the wallet {wallet} ran its transaction as a delegatecall into {to} (operation "
            f"{int(args[operation_at])}): the code runs as the wallet and its calls into the ledger are deeper; {needs}"
        )
    if to not in ours:
        raise Unmodelled(
            f"the wallet {wallet} called {to}, not a contract of the deployment, whose calls into the ledger "
            f"are deeper; {needs}"
        )
    return [InnerCall(wallet, to, data)]
