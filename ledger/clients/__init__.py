"""Typed clients of the ledger's contracts: each builds unsigned calls (``ledger.eth.calls``)
from the domain's value types and reads state back.
"""
