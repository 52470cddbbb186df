"""A workaround for anvil's transaction pool: send again what it parked in its queue and forgot.

anvil (automine) can put a sender's next transaction in its *queued* pool when it arrives
while the block of the sender's previous nonce is being mined, and then never promote it. Seen
under load, in tests and in the batch sender alike: ``txpool_status`` says 0 pending and N
queued, the first queued nonce is the account's own nonce, and nothing moves again, because a
new block does not wake the queue (tested: ``evm_mine`` leaves it as it is). Taking the
sender's transactions out of the pool (``anvil_removePoolTransactions``) and sending the same
signed bytes again in nonce order does.

``unstick`` acts only on that signature (queued, none pending, the first queued nonce equal to
the account's next nonce), which no real nonce gap has, and re-sends the node's own copies
(``eth_getRawTransactionByHash``), so it never changes or drops a transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

Request = Callable[[str, list[Any]], Any]


def _int(value: Any) -> int:
    return value if isinstance(value, int) else int(str(value), 16)


def _of(section: Any, address: str) -> Mapping[str, Any]:
    # web3 answers AttributeDicts, the batch transport plain dicts: both are Mappings.
    if not isinstance(section, Mapping):
        return {}
    for holder, txs in section.items():
        if str(holder).lower() == address.lower() and isinstance(txs, Mapping):
            return txs
    return {}


def unstick(request: Request, addresses: Iterable[str]) -> int:
    """Send again the transactions anvil holds queued for ``addresses`` though they can run; how many.

    ``request(method, params)`` returns a JSON-RPC result or raises. One read of the pool serves
    every address; an address whose pool does not show the stall described above is left alone.
    """
    content = request("txpool_content", [])
    if not isinstance(content, Mapping):
        return 0
    sent = 0
    for address in addresses:
        queued = _of(content.get("queued"), address)
        if not queued or _of(content.get("pending"), address):
            continue
        ordered = sorted((_int(tx["nonce"]), str(tx["hash"])) for tx in queued.values())
        if ordered[0][0] != _int(request("eth_getTransactionCount", [address, "latest"])):
            continue  # a real gap: an earlier nonce is missing, not ours to fill
        raws = [request("eth_getRawTransactionByHash", [tx_hash]) for _, tx_hash in ordered]
        if any(not isinstance(raw, str) for raw in raws):
            continue
        request("anvil_removePoolTransactions", [address])
        for raw in raws:
            try:
                request("eth_sendRawTransaction", [raw])
            except Exception:  # mined meanwhile, or refused: the caller's wait decides
                continue
        sent += len(raws)
    return sent
