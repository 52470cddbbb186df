"""The replay against the indexer's SQL projection, row by row: every row the chain explains, no other.

``compare_sql`` takes a replay run with ``keep_logs=True`` (every log and header it read, the
models' state at its last block, the calls that left no log) and the indexer's database, and
derives each table on its own, without ``ledger.index.projections`` (the point is a second,
independent derivation):

* ``cursor``: the chain, the block number and hash (the replay's last block), the history digest
  and event count (folded here from the logs the replay read, from the cursor's first block),
  the deployment's addresses; ``blocks``: each kept block's hash, parent, time and the digest
  after it;
* ``events``: each row against the log at its (block, log index): hashes, position, address,
  contract, event, topics, data and the arguments in the indexer's JSON form
  (``ledger.eth.history.json_args_writers``, the one function that writes them); missing and extra rows;
* the stateful tables against the models' state: ``parties`` (members), ``orders`` (escrow
  orders; the columns only events carry, such as the submitter or the refund reason, from the
  logged events), ``disputes``, ``guarantees``, ``pools``, ``receivable_roots`` (with the status
  the models compute), ``receivable_pieces`` (with the holder), ``credit_limits`` (revoked pairs
  read zero), ``balances`` (the settlement token), ``settings`` (thresholds, windows, allowed
  tokens, the grace period); an all-zero row equals an absent one where the contract's view
  cannot tell them apart (guarantees, pools, balances);
* the one-event tables (``milestones``, ``financings``, ``repayments``, ``claims``): each row
  against the logged event at its position, columns mapped from the event's arguments;
* ``refused_calls``: each reverted call to a ledger contract the replay found (a transaction that
  left no log), with its sender, function, arguments and custom error.

Every difference is a ``Mismatch`` of kind ``sql`` whose location names the table, the row's key
(``orders[order_id=17]``), the column and the block (of the event, or of the last event that
touched the row); ``expected`` is the chain's value, ``actual`` the row's. All are reported.
``updated_block`` columns (the indexer's own bookkeeping of which rows an event touches) and the
rows' internal ids are not compared.

The modules: ``rows`` (a row, its key, the cursor row, what a comparison found), ``derived``
(what the events say beyond the models' state), ``tables`` (the shared state and the row
comparison), then one per group of tables: ``chain`` (cursor, blocks, events, refused calls),
``parties`` (members, credit limits, balances), ``escrow`` (orders, disputes, guarantees, pools,
milestones), ``receivables`` (roots, pieces, financings, repayments, claims), ``settings``;
``compare`` runs them in order.
"""

from ledger.audit.sql.compare import compare_sql
from ledger.audit.sql.rows import SqlCompareError, SqlComparison, SqlCursor, read_cursor

__all__ = ["SqlCompareError", "SqlComparison", "SqlCursor", "compare_sql", "read_cursor"]
