#!/usr/bin/env bash
# The local chain without Hardhat: anvil from npm, driven by `scf devnet`.
#   hardhat-free-devnet/devnet.sh up [--port P] [--mining interval|auto] [--block-time S]
#   hardhat-free-devnet/devnet.sh status | down | reset
# Config: devnet.json beside this script. Runtime (state, log, what is running): run/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
[ -x "$root/.venv/bin/scf" ] || make -C "$root" setup >&2
exec "$root/.venv/bin/scf" devnet "$@"
