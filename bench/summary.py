"""Every benchmark in one run, and one table of how close each pipeline runs to its ceiling.

    .venv/bin/python bench/summary.py [--quick] [--only NAME[,NAME...]] [--out DIR]

``make bench`` runs this (``make bench QUICK=1`` passes ``--quick``). Each benchmark of this
directory runs as its own process, one after another, so that none measures while another
loads the machine; each prints its figures as the last line of its stdout (one JSON object),
which is kept as ``out/bench/<name>.json``. Progress (theirs and this script's) goes to
stderr.

The table has one row per pipeline: value, the ceiling measured in the same run, their ratio,
the target and whether it is met. The ratio targets are issue 19's (``RATIO_TARGETS``): how
close to the node's (or the database's, or the bare route's) own pace each pipeline must
run. A benchmark with no ratio target is held to the absolute target it prints itself. The
table is written as ``out/bench/summary.json`` and drawn as ``out/bench/ratios.png``: each
row's distance to its target, where 1.0 means met (for a ratio that must stay low, the
target over the ratio).

A benchmark that fails (non-zero exit, or no JSON line) is a row with its error, and the
run exits 1 after the others have run; a target not met is a row marked so, and exits 0:
the table is the report, and the issues hold the targets.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# The order they run in: the short ones first, so a broken setup shows early.
ORDER = (
    "cli_startup",
    "event_hash",
    "write_path",
    "indexer",
    "replay",
    "oracles",
    "scoring",
    "scenarios",
    "api",
    "faults",
    "financing",
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class RatioTarget:
    """Issue 19's target for a pipeline's ratio to its same-run ceiling."""

    ratio: float
    higher_is_better: bool = True
    p50_ms: float | None = None  # the API's latency target, beside its ratio

    def met(self, ratio: float) -> bool:
        return ratio >= self.ratio if self.higher_is_better else ratio <= self.ratio

    def progress(self, ratio: float) -> float:
        """1.0 at the target, more beyond it."""
        if self.higher_is_better:
            return ratio / self.ratio
        return self.ratio / ratio if ratio > 0 else float("inf")

    def text(self) -> str:
        return f"{'>=' if self.higher_is_better else '<='} {self.ratio:g}" + (
            f", p50 < {self.p50_ms:g} ms" if self.p50_ms is not None else ""
        )


RATIO_TARGETS: dict[str, RatioTarget] = {
    "write_path/orders": RatioTarget(ratio=0.8),
    "write_path/receivables": RatioTarget(ratio=0.8),
    "indexer": RatioTarget(ratio=0.6),
    "replay": RatioTarget(ratio=0.7),
    "oracles": RatioTarget(ratio=0.4),
    "scenarios": RatioTarget(ratio=0.3),
    "scoring": RatioTarget(ratio=1.5, higher_is_better=False),
    "api": RatioTarget(ratio=0.6, p50_ms=5.0),
}

LOWER_IS_BETTER_UNITS = {"s", "ms"}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Row:
    name: str
    unit: str | None = None
    value: float | None = None
    ceiling: float | None = None
    ratio: float | None = None
    target: str | None = None
    met: bool | None = None
    progress: float | None = None
    n: int | None = None
    seconds: float | None = None
    error: str | None = None
    notes: str | None = None


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_one(name: str, quick: bool, out: Path) -> tuple[dict[str, Any] | None, float, str | None]:
    """Run ``bench/<name>.py``; its JSON object (or None), its wall seconds and its error."""
    command = [sys.executable, str(HERE / f"{name}.py"), *(["--quick"] if quick else [])]
    log(f"{name}: {' '.join(command[1:])}")
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False)
    seconds = time.perf_counter() - started
    lines = [line for line in completed.stdout.splitlines() if line.strip()]
    if completed.returncode != 0:
        return None, seconds, f"exit status {completed.returncode}"
    try:
        result = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError as error:
        return None, seconds, f"its last stdout line is not JSON ({error.msg})"
    if not isinstance(result, dict):
        return None, seconds, "printed no JSON object"
    (out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    return result, seconds, None


def _absolute(result: dict[str, Any]) -> tuple[str | None, bool | None]:
    """A benchmark's own target, and whether its value meets it."""
    target, value, unit = result.get("target"), result.get("value"), result.get("unit")
    if "meets_target" in result:
        return str(target), bool(result["meets_target"])
    if isinstance(target, int | float) and isinstance(value, int | float):
        lower = unit in LOWER_IS_BETTER_UNITS
        return f"{'<=' if lower else '>='} {target:g} {unit}", value <= target if lower else value >= target
    return (str(target) if target is not None else None), None


def rows_of(name: str, result: dict[str, Any], seconds: float) -> list[Row]:
    """The table's rows for one benchmark's JSON object (the write path has two workloads)."""
    parts: list[tuple[str, dict[str, Any]]] = [(name, result)]
    if name == "write_path":
        parts = [("write_path/orders", result)]
        receivables = result.get("details", {}).get("receivables")
        if isinstance(receivables, dict):
            parts.append(("write_path/receivables", {"unit": result.get("unit"), **receivables}))
    rows = []
    for row_name, part in parts:
        ratio = part.get("ratio")
        goal = RATIO_TARGETS.get(row_name)
        notes = None
        if goal is not None and isinstance(ratio, int | float):
            met = goal.met(ratio)
            if goal.p50_ms is not None:
                p50 = api_p50_ms(part)
                met = met and p50 is not None and p50 < goal.p50_ms
                notes = f"p50 {p50:g} ms" if p50 is not None else "p50 not reported"
            target, progress = goal.text(), goal.progress(ratio)
        else:
            target, met = _absolute(part)
            progress = None
        rows.append(
            Row(
                name=row_name,
                unit=part.get("unit"),
                value=part.get("value"),
                ceiling=part.get("ceiling"),
                ratio=ratio,
                target=target,
                met=met,
                progress=progress,
                n=part.get("n"),
                seconds=round(seconds, 1),
                notes=notes,
            )
        )
    return rows


def api_p50_ms(result: dict[str, Any]) -> float | None:
    """The API's median latency of the reads at the head cell (the one its top-level ratio is of)."""
    details = result.get("details", {})
    for key in ("p50_ms", "reads_p50_ms"):
        if isinstance(details.get(key), int | float):
            return float(details[key])
    head = details.get("head")
    if isinstance(head, dict):
        reads = head.get("reads", {})
        if isinstance(reads, dict) and isinstance(reads.get("p50_ms"), int | float):
            return float(reads["p50_ms"])
    return None


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)


def table(rows: Sequence[Row]) -> str:
    header = ("bench", "unit", "value", "ceiling", "ratio", "target", "met", "notes")
    lines = [[r.name, r.unit, r.value, r.ceiling, r.ratio, r.target, r.met, r.error or r.notes] for r in rows]
    cells = [list(header)] + [[_cell(v) for v in line] for line in lines]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    out = []
    for k, row in enumerate(cells):
        out.append(
            "  ".join(
                c.rjust(w) if 2 <= i <= 4 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def chart(rows: Sequence[Row], path: Path, title: str) -> bool:
    """Bars of each ratio's distance to its target (1.0 = met); False when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display: a file only
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib is not installed: no chart (pip install matplotlib)")
        return False
    drawn = [r for r in rows if r.progress is not None]
    if not drawn:
        return False
    figure, axes = plt.subplots(figsize=(9, 0.55 * len(drawn) + 1.6))
    names = [r.name for r in drawn][::-1]
    values = [min(r.progress or 0.0, 3.0) for r in drawn][::-1]
    colours = ["#2e7d32" if r.met else "#c62828" for r in drawn][::-1]
    axes.barh(names, values, color=colours)
    axes.axvline(1.0, color="black", linewidth=1)
    for y, r in enumerate(drawn[::-1]):
        axes.text(
            min(r.progress or 0.0, 3.0) + 0.02, y, f"ratio {r.ratio:g} (target {r.target})", va="center", fontsize=8
        )
    axes.set_xlim(0, max(1.6, max(values) + 0.9))
    axes.set_xlabel("share of the target ratio (1.0 = met; for scoring, target / ratio)")
    axes.set_title(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="pass --quick to every benchmark")
    parser.add_argument("--only", help=f"comma-separated benchmarks, of: {', '.join(ORDER)}")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "bench", help="where the JSON and the chart go")
    args = parser.parse_args(argv)
    names = list(ORDER)
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = sorted(set(names) - set(ORDER))
        if unknown:
            parser.error(f"no such benchmark: {', '.join(unknown)} (there are: {', '.join(ORDER)})")
    missing = sorted({p.stem for p in HERE.glob("*.py")} - set(ORDER) - {"summary"})
    if missing:
        log(f"not in ORDER, not run: {', '.join(missing)}")
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    rows: list[Row] = []
    failed = False
    for name in names:
        result, seconds, error = run_one(name, args.quick, args.out)
        if result is None:
            failed = True
            rows.append(Row(name=name, seconds=round(seconds, 1), error=error))
            log(f"{name}: FAILED, {error}")
            continue
        rows.extend(rows_of(name, result, seconds))
    text = table(rows)
    print(text)
    met = [r for r in rows if r.met is not None]
    print(f"\n{sum(1 for r in met if r.met)} of {len(met)} targets met ({'--quick' if args.quick else 'full'} runs)")
    summary = {
        "quick": args.quick,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "seconds": round(time.time() - started, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "machine": platform.machine(),
            "load_1m_at_end": round(os.getloadavg()[0], 2),
        },
        "ratio_targets": {k: dataclasses.asdict(v) for k, v in RATIO_TARGETS.items()},
        "rows": [dataclasses.asdict(r) for r in rows],
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    title = f"scf-ledger benchmarks ({'--quick' if args.quick else 'full'}), {summary['started']}"
    if chart(rows, args.out / "ratios.png", title):
        log(f"wrote {args.out / 'summary.json'} and {args.out / 'ratios.png'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
