"""Compiled contracts as the wire code needs them: ABI, bytecode, immutables, storage layout.

``ledger.toolchain.compiler`` produces these; clients, the chain and the deployer read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ledger.errors import Diagnostic

ARTIFACT_FORMAT = 1

Backend = Literal["native", "solcjs"]


@dataclass(frozen=True)
class Artifact:
    name: str
    source: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    immutable_references: dict[str, list[dict[str, int]]]
    metadata: str
    source_hash: str
    storage_layout: dict[str, Any] = field(default_factory=dict)

    @property
    def deployable(self) -> bool:
        return len(self.bytecode) > 0

    def to_json(self, compiler: dict[str, str], input_hash: str) -> dict[str, Any]:
        return {
            "format": ARTIFACT_FORMAT,
            "contractName": self.name,
            "sourceName": self.source,
            "abi": self.abi,
            "bytecode": self.bytecode,
            "deployedBytecode": self.deployed_bytecode,
            "immutableReferences": self.immutable_references,
            "metadata": self.metadata,
            "sourceHash": self.source_hash,
            "storageLayout": self.storage_layout,
            "compiler": compiler,
            "inputHash": input_hash,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Artifact:
        return cls(
            name=data["contractName"],
            source=data["sourceName"],
            abi=data["abi"],
            bytecode=data["bytecode"],
            deployed_bytecode=data["deployedBytecode"],
            immutable_references=data["immutableReferences"],
            metadata=data["metadata"],
            source_hash=data["sourceHash"],
            storage_layout=data.get("storageLayout", {}),
        )


@dataclass
class BuildResult:
    artifacts: dict[str, Artifact]
    backend: Backend
    compiler_version: str
    input_hash: str
    from_cache: bool
    out_dir: Path
    warnings: list[Diagnostic] = field(default_factory=list)

    def __getitem__(self, name: str) -> Artifact:
        return self.artifacts[name]
