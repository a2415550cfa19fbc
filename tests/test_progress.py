"""progress.csv: one row per iteration, every scalar; columns that appear later; resume."""

from __future__ import annotations

import csv

from metarl.progress import FILENAME, ProgressCSV, read_rows


def rows(run_dir):
    with open(run_dir / FILENAME, newline="") as f:
        return list(csv.DictReader(f))


def test_one_row_per_iteration_and_later_columns_extend_the_header(tmp_path):
    log = ProgressCSV(tmp_path)
    log.write({"returns/pre_adapt": -40.0, "time/iteration": 0.5}, 1)
    log.write({"returns/pre_adapt": -39.0, "time/iteration": 0.5, "returns/held_out_k0": -37.5}, 2)
    log.write({"returns/pre_adapt": -38.0, "time/iteration": 0.5}, 3)
    log.close()
    got = rows(tmp_path)
    assert [r["iteration"] for r in got] == ["1", "2", "3"]
    assert list(got[0])[:2] == ["iteration", "wall_time"]
    assert list(got[0])[2:] == ["returns/held_out_k0", "returns/pre_adapt", "time/iteration"]
    assert [r["returns/held_out_k0"] for r in got] == ["", "-37.5", ""]
    assert [float(r["returns/pre_adapt"]) for r in got] == [-40.0, -39.0, -38.0]


def test_resume_drops_rows_a_killed_run_wrote_after_its_checkpoint(tmp_path):
    log = ProgressCSV(tmp_path)
    for i in range(1, 6):
        log.write({"returns/post_adapt": float(i)}, i)
    log.close()
    with open(tmp_path / FILENAME, "a") as f:
        f.write("6,17")  # a row torn by kill -9
    log = ProgressCSV(tmp_path, first_step=5)  # the checkpoint was at iteration 4
    log.write({"returns/post_adapt": 50.0}, 5)
    log.close()
    header, complete = read_rows(tmp_path / FILENAME)
    assert [r["iteration"] for r in complete] == ["1", "2", "3", "4", "5"]
    assert complete[-1]["returns/post_adapt"] == "50.0"
