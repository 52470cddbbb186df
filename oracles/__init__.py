"""Oracles: EPCIS 2.0 ingestion, GS1 event hashing and (later) attestation services.

The pure layer, without chain or HTTP:

- :mod:`oracles.epcis`: ``parse_document`` turns EPCIS documents into typed events;
- :mod:`oracles.hashing`: ``event_hash`` (the evidence) and ``evidence_bytes32``;
- :mod:`oracles.mapping`: ``map_event`` says which milestone an event proves for which PO;
- :mod:`oracles.simulator`: realistic documents for orders with known outcomes;
- :mod:`oracles.errors`: ``OracleError``, the one root of this package's errors.
"""
