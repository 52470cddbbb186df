"""Start-up of the ``scf`` command line: how long ``scf --help`` takes, against the interpreter's own.

    .venv/bin/python bench/cli_startup.py [--quick] [--runs N]

Each timed run is a fresh process (the venv's ``scf`` entry point, output discarded), as a user
types it. Runs alternate in rounds over every job, so that other load on the machine weighs on
all of them alike, and each job's median is reported:

- the value: ``scf --help`` (the whole parser is built: every command registers its options,
  and no handler runs, so nothing heavy may be imported; ``api.cli``);
- the ceiling: ``python -c pass`` with the same interpreter, the floor any Python command
  pays (site, the editable install's finder);
- the baseline: ``python -c "import web3, numpy, fastapi"``, what importing the libraries
  eagerly costs, as ``scf`` did before its commands imported them in their handlers (~3.2 s);
- details: ``scf <command> --help`` for every command, and the modules ``scf --help`` loads.

Lower is better for every number here; ``ratio`` = value / ceiling (1.0 would be free). The
target is 1 s (issue 15: "well under a second"). Progress goes to stderr; the last line of
stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET = 1.0  # seconds
REPO_ROOT = Path(__file__).resolve().parent.parent
COMMANDS = (
    "contracts",
    "devnet",
    "deploy",
    "keys",
    "oracle",
    "simulate",
    "index",
    "audit",
    "score",
    "serve",
    "verify",
    "demo",
)
HEAVY = ("web3", "eth_account", "numpy", "scipy", "sqlalchemy", "fastapi", "uvicorn", "ledger", "scoring")


def _scf() -> str:
    found = Path(sys.executable).with_name("scf")
    if not found.is_file():
        sys.exit(f"no scf entry point next to {sys.executable}: run `make setup` (pip install -e .)")
    return str(found)


def _timed(command: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return elapsed


def _loaded_by_help() -> dict[str, object]:
    """The modules building the parser loads, and which of the heavy packages are among them (none, we hope)."""
    probe = (
        "import json, sys; import api.cli; api.cli.parser(); "
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]; "
        "print(json.dumps({'modules': len(sys.modules), 'heavy': heavy}))"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    loaded: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 runs of each instead of 15")
    parser.add_argument("--runs", type=int, help="runs of each job (default 15, --quick 5)")
    args = parser.parse_args()
    runs = args.runs or (5 if args.quick else 15)
    scf = _scf()
    jobs: dict[str, list[str]] = {
        "scf --help": [scf, "--help"],
        "python -c pass": [sys.executable, "-c", "pass"],
        "eager imports": [sys.executable, "-c", "import web3, numpy, fastapi"],
        **{f"scf {c} --help": [scf, c, "--help"] for c in COMMANDS},
    }
    for command in jobs.values():  # warm the page cache and the bytecode caches: not timed
        _timed(command)
    times: dict[str, list[float]] = {name: [] for name in jobs}
    for k in range(runs):
        for name, command in jobs.items():
            times[name].append(_timed(command))
        print(f"round {k + 1}/{runs}: scf --help {times['scf --help'][-1]:.3f} s", file=sys.stderr)
    median = {name: statistics.median(values) for name, values in times.items()}
    value, ceiling, baseline = median["scf --help"], median["python -c pass"], median["eager imports"]
    result = {
        "bench": "cli_startup",
        "unit": "s",
        "value": round(value, 4),
        "ceiling": round(ceiling, 4),
        "ratio": round(value / ceiling, 2) if ceiling else None,
        "baseline": round(baseline, 4),
        "target": TARGET,
        "n": runs,
        "details": {
            "better": "lower (every number is a median wall time in seconds)",
            "value_is": "scf --help, a fresh process per run",
            "ceiling_is": "python -c pass (the floor of any Python command)",
            "baseline_is": 'python -c "import web3, numpy, fastapi" (what eager imports cost)',
            "min": round(min(times["scf --help"]), 4),
            "max": round(max(times["scf --help"]), 4),
            "commands": {c: round(median[f"scf {c} --help"], 4) for c in COMMANDS},
            "loaded_by_help": _loaded_by_help(),
            "python": platform.python_version(),
            "machine": platform.machine(),
        },
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
