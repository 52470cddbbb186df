"""The product names no dev-node method outside the few places that are guarded for a dev node.

A permissioned network's node (Besu, GoQuorum, Geth) answers the standard ``eth_*``, ``net_*`` and
``web3_*`` methods only; ``tests/e2e/test_standard_rpc.py`` runs the product through such a node.
This test keeps it that way at the source: every string in the product's packages (``ledger``,
``api``, ``oracles``, ``scoring``; docstrings aside) that names an ``anvil_*``, ``evm_*`` or
``hardhat_*`` method must be in ``ALLOWED``, file by file and method by method, and every entry
there must still be used (a stale one would let a new call slip in under it).

Not scanned, being dev tools by purpose: ``scenarios/`` (plays worlds on a devnet, moving its
clock), ``bench/`` (measures the write path on anvils of its own) and ``tests/``. The devnet
commands (``ledger/toolchain/devnet.py``, ``api/cli/devnet.py``) may name any dev method.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("ledger", "api", "oracles", "scoring")
#: Dev-node methods: a JSON-RPC method name in one of the dev namespaces, alone or as a body's "method".
DEV_METHOD = re.compile(r"^(?:anvil|evm|hardhat)_[a-z][A-Za-z]*$")
IN_BODY = re.compile(r"\"method\"\s*:\s*\"((?:anvil|evm|hardhat)_[a-z][A-Za-z]*)\"")
#: Files that start, stop or inspect the devnet itself.
DEVNET_COMMANDS = ("ledger/toolchain/devnet.py", "api/cli/devnet.py")
ALLOWED: dict[str, dict[str, str]] = {
    # Chain's devnet controls (advance_time, mine, snapshot, revert) run only on the embedded chain
    # or a node whose client name says dev node (_require_dev_node); a refusal raises
    # UnsupportedOperation. The automine probe is asked only of a dev node, and a refusal means "no".
    "ledger/eth/chain.py": {
        "anvil_getAutomine": "receipt waits on an automining anvil; refused: not automining",
        "evm_increaseTime": "Chain.advance_time, dev nodes only",
        "evm_mine": "Chain.mine and advance_time, dev nodes only",
        "evm_snapshot": "Chain.snapshot, dev nodes only (tests)",
        "evm_revert": "Chain.revert, after a snapshot only a dev node gave",
    },
    # The batch sender asks a dev node whether it mines by itself (refused: it does) and mines only
    # on an anvil that said it does not.
    "ledger/eth/batch.py": {
        "anvil_getAutomine": "BatchSender.mining, dev nodes only; refused: the node mines",
        "anvil_getIntervalMining": "BatchSender.mining, dev nodes only; refused: the node mines",
        "evm_mine": "only when mining() found an anvil that does not mine by itself",
    },
    # Re-queues transactions an automining anvil parked; reached only once anvil_getAutomine said yes.
    "ledger/eth/anvil_pool.py": {"anvil_removePoolTransactions": "automining anvil only"},
}


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes of ``tree``: prose about a method is not a call of it."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def dev_methods_named(path: Path) -> set[str]:
    """The dev-node methods that string constants of ``path`` name (docstrings aside)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    prose = _docstrings(tree)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose:
            text = node.value.strip()
            if DEV_METHOD.match(text):
                names.add(text)
            names.update(IN_BODY.findall(node.value))
    return names


def product_dev_methods() -> dict[str, set[str]]:
    """Every product file (devnet commands aside) and the dev-node methods it names."""
    named: dict[str, set[str]] = {}
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative in DEVNET_COMMANDS:
                continue
            if methods := dev_methods_named(path):
                named[relative] = methods
    return named


def test_the_product_names_no_dev_node_method_outside_the_guarded_helpers() -> None:
    named = product_dev_methods()
    unexplained = {
        file: sorted(methods - set(ALLOWED.get(file, {})))
        for file, methods in named.items()
        if methods - set(ALLOWED.get(file, {}))
    }
    assert unexplained == {}, (
        "a permissioned network answers only eth_*, net_* and web3_*: guard these for a dev node "
        f"(and add them to ALLOWED with why) or do without them: {unexplained}"
    )


def test_every_allowed_dev_method_is_still_named_where_it_is_allowed() -> None:
    named = product_dev_methods()
    stale = {file: sorted(set(methods) - named.get(file, set())) for file, methods in ALLOWED.items()}
    assert {file: methods for file, methods in stale.items() if methods} == {}


def test_the_scan_finds_a_method_in_a_call_and_in_a_request_body_but_not_in_prose(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""Mentions evm_mine in prose."""\n'
        "def f(rpc):\n"
        '    """And anvil_setBalance here."""\n'
        '    rpc.call("hardhat_mine", [])\n'
        '    return \'{"jsonrpc": "2.0", "method": "anvil_impersonateAccount", "params": []}\'\n'
        'POOL = "anvil_pool is a module"\n'
    )
    assert dev_methods_named(sample) == {"hardhat_mine", "anvil_impersonateAccount"}
