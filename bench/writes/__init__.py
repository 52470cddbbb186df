"""The parts of ``bench/write_path.py``, the write-path throughput benchmark.

``bench/*.py`` are the benchmarks themselves (``make bench`` runs every one of them and each
prints one JSON line), so what the write-path benchmark is made of lives in this folder, and
``write_path.py`` stays its command line:

- ``plan``: the run's sizes (``FULL``, ``QUICK``), the target, the deterministic accounts, and
  what goes to stderr (progress lines, cProfile's table);
- ``nodes``: anvils of the benchmark's own, plain JSON-RPC, deployment, a process's CPU time;
- ``events``: reading a transaction's event logs (topics, the one expected log, data words);
- ``ceiling``: the node's own pace for pre-signed ERC-20 transfers, no project code in the way,
  measured in the same run as the workloads it is compared with;
- ``orders``: the order lifecycles measured, in rounds alternating with the ceiling (the
  top-level figures);
- ``baseline``: the same lifecycles through plain web3.py ``transact()`` and receipts;
- ``receivables``: the receivable lifecycles measured, on an anvil of their own, with their own
  ceiling (``details.receivables``);
- ``report``: the JSON object the run prints.

bench/ is not a package: its scripts import each other by name because Python puts a script's
folder on ``sys.path``. These modules follow that and import each other as ``writes.<module>``;
``write_path`` puts bench/ on the path when it is loaded from its file without it
(``bench/scenarios.py`` does that). The other benchmarks reach these helpers through
``write_path``, which re-exports the names they use.
"""
