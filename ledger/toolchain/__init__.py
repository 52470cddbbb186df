"""Build and run the contracts: compile (solc-js or native solc), the local devnet, deploy
and verify, static analysis (Slither).
"""
