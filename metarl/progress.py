"""progress.csv: one row per meta-iteration with every scalar the run logged, as CleanRL's and
Stable-Baselines3's users expect next to TensorBoard's events; pandas, a spreadsheet or
`metarl-results` read it without TensorBoard.

Columns are `iteration`, `wall_time` (Unix seconds) and the logged tags in sorted order. Tags
that appear only later (the held-out evaluation every `eval.every` iterations) extend the header
once; rows without a value leave the cell empty. On resume, rows at or after the resumed iteration
(written by a run killed after its last checkpoint) are dropped, as TensorBoard's purge_step does
with its events.
"""

from __future__ import annotations

import csv
import math
import os
import time
from pathlib import Path

FILENAME = "progress.csv"
FIXED = ["iteration", "wall_time"]


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the complete rows of a progress.csv (a torn last line is skipped)."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        header = list(reader.fieldnames or [])
        rows = [
            row
            for row in reader
            if None not in row.values() and row.get("iteration", "").strip().isdigit()
        ]
    return header, rows


class ProgressCSV:
    def __init__(self, run_dir: Path, first_step: int = 1) -> None:
        self.path = Path(run_dir) / FILENAME
        self.columns = list(FIXED)
        if self.path.is_file():
            header, rows = read_rows(self.path)
            self.columns = header or self.columns
            kept = [row for row in rows if int(row["iteration"]) < first_step]
            if len(kept) != len(rows) or not header:
                self._rewrite(kept)
        else:
            self._rewrite([])
        self._file = open(self.path, "a", newline="")  # noqa: SIM115 (closed by close())

    def write(self, metrics: dict[str, float], step: int) -> None:
        new = sorted(set(metrics) - set(self.columns))
        if new:
            self._file.close()
            _, rows = read_rows(self.path)
            self.columns = FIXED + sorted(set(self.columns[len(FIXED) :]) | set(new))
            self._rewrite(rows)
            self._file = open(self.path, "a", newline="")  # noqa: SIM115
        row = {"iteration": step, "wall_time": f"{time.time():.3f}"}
        row.update({k: _cell(v) for k, v in metrics.items()})
        csv.DictWriter(self._file, self.columns, restval="").writerow(row)
        self._file.flush()

    def _rewrite(self, rows: list[dict[str, str]]) -> None:
        """The whole file again under the current header, atomically (temp file, rename)."""
        tmp = self.path.with_name(f".{FILENAME}.tmp")
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, self.columns, restval="", extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def close(self) -> None:
        self._file.close()


def _cell(value: float) -> str:
    value = float(value)
    return repr(value) if math.isfinite(value) else str(value)
