"""``scf verify receivable``: a bank checks a receivable against its own node, not against our API.

    scf verify receivable ID --rpc URL [--block N] [--api URL [--token T] | --proof FILE]
                             [--contract ADDRESS | --deployment FILE] [--json]

Where the claim and its proof come from:

* ``--proof FILE``: a bundle saved from ``GET /v1/receivables/pieces/{ID}/proof``;
* ``--api URL``: fetched from the API (token in ``--token`` or ``SCF_API_TOKEN``);
* neither: built from the ``--rpc`` node itself (the node's own ``eth_getProof``, checked
  against its own header: useful to read a receivable's state with proof, and the same
  code path a bank runs on the API's bundle).

Then, on the ``--rpc`` node (the bank's own): the block the bundle names is fetched, its hash
and state root must be the bundle's, every Merkle-Patricia proof is walked up to that root,
the slots are decoded with the storage layout of the bank's own compile of the sources, and
the proved state must equal the claim. The Receivables address is the one in the chain's
deployment record (or ``--contract``), never the bundle's word for it. Exit 0 when it all
holds, 1 when the proof or the claim is refused, 2 when it could not be checked.

In process: ``verify_receivable(piece_id, rpc=..., ...)`` returns the verified state as JSON, or raises
``ProofInvalid`` / ``ClaimMismatch`` (refused) or ``ProofUnavailable`` / ``VerifyError`` (not checked).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from api.cli.common import deployed_record_path
from api.cli.contracts import build_contracts
from api.cli.errors import CommandError, dispatch

TOKEN_ENV = "SCF_API_TOKEN"
EXIT_REFUSED = 1
EXIT_UNCHECKED = 2


class VerifyError(CommandError):
    """The verification could not run (a file, the API or the node said no)."""


def _contract(chain_id: int, contract: str | None, deployment: Path | None) -> str | None:
    if contract:
        return contract
    from ledger.toolchain.deploy import load_record

    record = load_record(deployment or deployed_record_path(chain_id))
    if record is None:
        return None
    return str(record["contracts"]["Receivables"]["address"])


def _bundle_from_api(url: str, piece_id: int, block: int | None, token: str | None) -> dict[str, Any]:
    import httpx

    if not token:
        raise VerifyError(f"the API needs a token: pass --token or set {TOKEN_ENV}")
    params = {"block": block} if block is not None else {}
    try:
        answer = httpx.get(
            f"{url.rstrip('/')}/v1/receivables/pieces/{piece_id}/proof",
            params=params,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
    except httpx.HTTPError as exc:
        raise VerifyError(f"the API at {url} did not answer: {exc}") from exc
    if answer.status_code != 200:
        raise VerifyError(f"the API answered {answer.status_code}: {answer.text[:300]}")
    bundle: dict[str, Any] = answer.json()
    return bundle


def verify_receivable(
    piece_id: int,
    *,
    rpc: str,
    block: int | None = None,
    api: str | None = None,
    token: str | None = None,
    proof: Path | None = None,
    contract: str | None = None,
    deployment: Path | None = None,
) -> dict[str, Any]:
    """The state of piece ``piece_id`` verified on the node at ``rpc`` (as JSON), from the bundle in ``proof``,
    or fetched from ``api`` with ``token``, or built from the node itself; an exception saying why not."""
    from web3 import Web3

    from ledger.eth.proofs import ProofInvalid, ReceivableLayout, fetch_bundle, verify_bundle, web3_rpc

    w3 = Web3(Web3.HTTPProvider(rpc, request_kwargs={"timeout": 30}))
    call = web3_rpc(w3, rpc)
    chain_id = int(call("eth_chainId", []), 16)
    layout = ReceivableLayout.from_storage_layout(build_contracts()["Receivables"].storage_layout)
    address = _contract(chain_id, contract, deployment)
    if proof is not None:
        try:
            bundle = json.loads(proof.read_text())
        except (OSError, ValueError) as exc:
            raise VerifyError(f"cannot read the proof file {proof}: {exc}") from exc
    elif api:
        bundle = _bundle_from_api(api, piece_id, block, token)
    else:
        if address is None:
            raise VerifyError(f"no deployment recorded for chain {chain_id}: pass --contract ADDRESS")
        bundle = fetch_bundle(call, address, piece_id, layout, block)
        if "claim" not in bundle:
            raise ProofInvalid("storage", f"piece {piece_id} does not exist at block {bundle['block']['number']}")
    if int(bundle.get("pieceId", -1)) != piece_id:
        raise ProofInvalid("claim", f"the bundle is about piece {bundle.get('pieceId')}, not {piece_id}")
    number = int(bundle.get("block", {}).get("number", -1))
    if block is not None and number != block:
        raise ProofInvalid("block", f"the bundle is proved against block {number}, not {block}")
    header = call("eth_getBlockByNumber", [hex(number), False])
    if not header:
        raise ProofInvalid("block", f"your node has no block {number}")
    state = verify_bundle(bundle, header, layout, contract=address)
    return {"verified": True, "chainId": chain_id, "block": bundle["block"], "contract": bundle["contract"],
            "contractChecked": address is not None, "state": state.to_json()}  # fmt: skip


def cmd_verify_receivable(args: argparse.Namespace) -> int:
    from ledger.eth.proofs import ClaimMismatch, ProofInvalid, ProofUnavailable

    try:
        result = verify_receivable(
            args.id,
            rpc=args.rpc,
            block=args.block,
            api=args.api,
            token=args.token or os.environ.get(TOKEN_ENV),
            proof=Path(args.proof) if args.proof else None,
            contract=args.contract,
            deployment=Path(args.deployment) if args.deployment else None,
        )
    except (ProofInvalid, ClaimMismatch) as exc:
        print(f"REFUSED: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except (ProofUnavailable, VerifyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNCHECKED
    if args.json:
        print(json.dumps(result))
        return 0
    block = result["block"]
    print(
        f"receivable piece {args.id} VERIFIED on chain {result['chainId']} at block {block['number']} ({block['hash']})"
    )
    if not result["contractChecked"]:
        print("  warning: no deployment record for this chain, so the contract address was taken from the bundle")
    for name, value in result["state"].items():
        print(f"  {name:<14} {value}")
    return 0


def register(subparsers: Any) -> None:
    """Add ``verify receivable`` to ``scf``'s subcommands."""
    verify = subparsers.add_parser("verify", help="check ledger state against your own node").add_subparsers(
        dest="action", required=True
    )
    p = verify.add_parser("receivable", help="prove a receivable piece's state from a block's state root")
    p.add_argument("id", type=int, help="the piece id (a root id for a whole receivable)")
    p.add_argument("--rpc", required=True, help="JSON-RPC URL of a node you trust (it must serve eth_getProof)")
    p.add_argument("--block", type=int, help="prove against this block (default: the bundle's, or the latest)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--api", help="fetch the claim and its proof from this scf API base URL")
    source.add_argument("--proof", help="a proof bundle saved from the API")
    p.add_argument("--token", help=f"API access token (default: {TOKEN_ENV})")
    p.add_argument("--contract", help="the Receivables address (default: from the chain's deployment record)")
    p.add_argument("--deployment", help="deployment record file (default: deployments/<chainId>.json)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_verify_receivable)


def main(argv: Sequence[str] | None = None) -> int:
    """``scf verify ...`` on its own (``python -m api.cli.verify verify receivable ...``)."""
    parser = argparse.ArgumentParser(prog="scf")
    register(parser.add_subparsers(dest="command", required=True))
    return dispatch(parser.parse_args(argv), exit_code=EXIT_UNCHECKED)


if __name__ == "__main__":
    sys.exit(main())
