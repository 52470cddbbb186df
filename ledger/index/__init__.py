"""The indexer: contract events to SQL rows (projections), and the SQL schema they fill."""
