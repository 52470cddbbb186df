"""Many views in one ``eth_call``: a view reader lent to the node for the call (a state override).

The replay compares tens of thousands of views at its last block. One ``eth_call`` per view
costs the node an execution environment each; ``ViewReader.read`` (below, compiled with the
project's pinned solc) static-calls each target in turn inside one call, at the same block,
and returns each answer with whether it reverted: the same answers, a fraction of the node's
work. The reader's runtime code is not deployed: each call places it at ``READER`` through
``eth_call``'s state-override argument (anvil, geth, Besu, Erigon, Nethermind take it). A node
that refuses overrides gets plain ``eth_call`` batches instead (``Rpc.calls``).

``tests/ledger/eth/test_reader.py`` recompiles ``SOURCE`` and checks it gives ``RUNTIME``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from eth_utils import keccak, to_checksum_address

from ledger.eth.calldata import tuple_decoder

SOURCE: Final = """// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice Reads many views in one call: each target answers `data[i]` to a static call.
contract ViewReader {
    function read(address[] calldata targets, bytes[] calldata data)
        external
        view
        returns (bool[] memory ok, bytes[] memory answers)
    {
        ok = new bool[](data.length);
        answers = new bytes[](data.length);
        for (uint256 i = 0; i < data.length; i++) {
            (ok[i], answers[i]) = targets[i].staticcall(data[i]);
        }
    }
}
"""

#: Where the reader's code is placed for a call (no account holds code there).
READER: Final = to_checksum_address(keccak(text="scf-ledger/audit/ViewReader")[12:])
#: ``read(address[],bytes[])``
SELECTOR: Final = keccak(text="read(address[],bytes[])")[:4]

RUNTIME: Final = (
    "608060405234801561000f575f5ffd5b5060043610610029575f3560e01c8063849419371461002d575b5f5ffd5b61004061"
    "003b366004610230565b610057565b60405161004e92919061029c565b60405180910390f35b6060808267ffffffffffffff"
    "ff8111156100735761007361035e565b60405190808252806020026020018201604052801561009c57816020016020820280"
    "3683370190505b5091508267ffffffffffffffff8111156100b8576100b861035e565b604051908082528060200260200182"
    "0160405280156100eb57816020015b60608152602001906001900390816100d65790505b5090505f5b838110156101de5786"
    "868281811061010a5761010a610372565b905060200201602081019061011f9190610386565b6001600160a01b0316858583"
    "81811061013a5761013a610372565b905060200281019061014c91906103b3565b60405161015a9291906103f6565b5f6040"
    "5180830381855afa9150503d805f8114610192576040519150601f19603f3d011682016040523d82523d5f602084013e6101"
    "97565b606091505b508483815181106101aa576101aa610372565b602002602001018484815181106101c3576101c3610372"
    "565b602090810291909101019190915290151590526001016100f0565b5094509492505050565b5f5f83601f8401126101f8"
    "575f5ffd5b50813567ffffffffffffffff81111561020f575f5ffd5b6020830191508360208260051b850101111561022957"
    "5f5ffd5b9250929050565b5f5f5f5f60408587031215610243575f5ffd5b843567ffffffffffffffff811115610259575f5f"
    "fd5b610265878288016101e8565b909550935050602085013567ffffffffffffffff811115610284575f5ffd5b6102908782"
    "88016101e8565b95989497509550505050565b604080825283519082018190525f9060208501906060840190835b81811015"
    "6102d757835115158352602093840193909201916001016102b7565b50508381036020850152809150845180825260208201"
    "925060208160051b830101602087015f5b8381101561035057601f1985840301865281518051808552806020830160208701"
    "5e5f602082870101526020601f19601f830116860101945050506020820191506020860195506001810190506102fe565b50"
    "9098975050505050505050565b634e487b7160e01b5f52604160045260245ffd5b634e487b7160e01b5f5260326004526024"
    "5ffd5b5f60208284031215610396575f5ffd5b81356001600160a01b03811681146103ac575f5ffd5b9392505050565b5f5f"
    "8335601e198436030181126103c8575f5ffd5b83018035915067ffffffffffffffff8211156103e2575f5ffd5b6020019150"
    "36819003821315610229575f5ffd5b818382375f910190815291905056fea2646970667358221220132906507cd257c9078b"
    "46f4972e09095808a8f5f1952dd81edb303cf94cb33564736f6c634300081c0033"
)
CODE: Final = "0x" + RUNTIME
PER_CALL: Final = 200  # views per reader call: well under any node's gas cap for these views


def encode_read(calls: Sequence[Mapping[str, str]]) -> str:
    """``read(targets, data)`` calldata (hex) for ``{"to", "data"}`` requests."""
    count = len(calls)
    targets = f"{count:064x}" + "".join("0" * 24 + c["to"][2:].lower() for c in calls)
    heads: list[str] = []
    tails: list[str] = []
    offset = 32 * count
    for c in calls:
        body = c["data"][2:]
        size = len(body) // 2
        padded = body + "0" * (-len(body) % 64)
        heads.append(f"{offset:064x}")
        tails.append(f"{size:064x}" + padded)
        offset += 32 + len(padded) // 2
    data = f"{count:064x}" + "".join(heads) + "".join(tails)
    return "0x" + SELECTOR.hex() + f"{64:064x}" + f"{64 + len(targets) // 2:064x}" + targets + data


_ANSWERS = tuple_decoder([{"type": "bool[]"}, {"type": "bytes[]"}])


def decode_read(raw: bytes) -> list[tuple[bool, bytes]]:
    """(succeeded, return or revert data) of each static call, in order."""
    ok, answers = _ANSWERS.decode(raw, 0)
    return list(zip(ok, answers, strict=True))
