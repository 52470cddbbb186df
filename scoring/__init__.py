"""Credit scoring from verified multi-tier trade history.

``source`` / ``chain_source`` read the verified event history as of a point in time (from the
indexer's SQL or straight from the chain's logs), ``features`` turns it into per-party features
in one vectorised pass, ``graph`` adds the multi-tier link (trust propagated from the core
enterprises, distance to one, circular trading), ``scorecard`` is the points model (fit, PDO
scaling, PD, grade, limit, version hash), ``decision`` makes and explains one decision,
``evaluate`` measures the model on held-out parties of a simulated world, and ``audit``
recomputes published limits from chain data alone. ``scoring`` never sends transactions.
"""
