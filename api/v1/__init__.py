"""The ledger's HTTP API under ``/v1``: ``create_app(settings)`` in ``api.v1.app``."""
