"""Errors of the ledger package: one root, typed subclasses that keep their context."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class LedgerError(Exception):
    """Root of every error raised by ``ledger``."""


class ToolchainMissing(LedgerError):
    """A tool the ledger needs (node, node_modules, a compiler) is not installed."""

    def __init__(self, tool: str, hint: str) -> None:
        self.tool = tool
        self.hint = hint
        super().__init__(f"{tool} is missing: {hint}")


@dataclass(frozen=True)
class Diagnostic:
    """One compiler message with where it points."""

    severity: str
    message: str
    file: str | None
    line: int | None
    column: int | None
    formatted: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}: " if self.file else ""
        return f"{where}{self.severity}: {self.message}"


class CompileError(LedgerError):
    """The compiler refused the sources; ``diagnostics`` says where and why."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = list(diagnostics)
        super().__init__("compilation failed:\n" + "\n".join(d.formatted or str(d) for d in self.diagnostics))


class ChainUnavailable(LedgerError):
    """No node answers at the configured endpoint."""

    def __init__(self, endpoint: str, reason: str) -> None:
        self.endpoint = endpoint
        self.reason = reason
        super().__init__(f"no chain answers at {endpoint}: {reason}")


class UnsupportedOperation(LedgerError):
    """The backend cannot do what was asked (e.g. advancing time on a public network)."""

    def __init__(self, backend: str, operation: str) -> None:
        self.backend = backend
        self.operation = operation
        super().__init__(f"{operation} is not supported on the {backend} backend")


class ContractReverted(LedgerError):
    """A call or transaction reverted. ``error`` is the decoded custom error when known."""

    def __init__(
        self,
        error: str | None,
        args: dict[str, Any] | None = None,
        *,
        contract: str | None = None,
        data: str | None = None,
        reason: str | None = None,
        tx_hash: str | None = None,
    ) -> None:
        self.error = error
        self.error_args = dict(args or {})
        self.contract = contract
        self.data = data
        self.reason = reason
        self.tx_hash = tx_hash
        if error:
            rendered = ", ".join(f"{k}={_short(v)}" for k, v in self.error_args.items())
            text = f"{contract + '.' if contract else ''}{error}({rendered})"
        elif reason:
            text = f"reverted: {reason}"
        else:
            text = f"reverted without a known reason (data={data or '0x'})"
        super().__init__(text)


def _short(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


class DevnetError(LedgerError):
    """The local devnet could not be started, found or stopped."""


class PortTaken(DevnetError):
    """The devnet port answers, but not as an anvil node."""

    def __init__(self, host: str, port: int, detail: str) -> None:
        self.host = host
        self.port = port
        self.detail = detail
        super().__init__(
            f"{host}:{port} is already in use by something that is not anvil ({detail}); "
            "choose another port with --port or SCF_DEVNET_PORT"
        )


class DeploymentError(LedgerError):
    """A deployment is missing, stale or does not match the local compile."""


class DeploymentMissing(DeploymentError):
    """No deployment of the contracts is recorded for this chain."""

    def __init__(self, chain_id: int, path: str) -> None:
        self.chain_id = chain_id
        self.path = path
        super().__init__(f"no deployment recorded for chain {chain_id} ({path}); run `scf deploy`")


class DeploymentOfAnotherChain(DeploymentError):
    """A deployment record names another chain than the node it is used with."""

    def __init__(self, path: str, recorded: object, chain_id: int) -> None:
        self.path = path
        self.recorded = recorded
        self.chain_id = chain_id
        super().__init__(f"{path} is a deployment on chain {recorded}, not {chain_id}")


@dataclass(frozen=True)
class BytecodeMismatch:
    contract: str
    address: str
    reason: str


class VerificationFailed(DeploymentError):
    """Deployed runtime bytecode differs from the local compile."""

    def __init__(self, mismatches: Sequence[BytecodeMismatch]) -> None:
        self.mismatches = list(mismatches)
        lines = [f"{m.contract} at {m.address}: {m.reason}" for m in self.mismatches]
        super().__init__("deployed bytecode does not match the local compile:\n" + "\n".join(lines))
