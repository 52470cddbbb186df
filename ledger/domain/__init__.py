"""Value types of the ledger's contracts: orders, receivables, typed-data field lists.

No wire code: nothing here imports web3, a chain or a client, so the model and the
audit's state machine can use these types without loading a node connection.
"""
