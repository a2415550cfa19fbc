"""Results across runs: `metarl-results` (python -m metarl.results).

    report(paths, out)  -> results.md, results.csv, adaptation_<family>.{png,pdf},
                           training_<family>.{png,pdf} in `out`

runs.py finds and reads runs (or their exported small files), groups.py groups them,
stats.py computes CIs across seeds (rliable), table.py and figures.py write the outputs,
export.py copies a run's small files into a results folder, docblock.py updates marked tables in
markdown files.
"""

from __future__ import annotations

from pathlib import Path

from metarl.errors import ResultsError


def report(
    paths: list[Path],
    out: Path,
    smooth: int = 10,
    reps: int = 10_000,
    update_docs: list[Path] | None = None,
    headline: str | None = None,
    tasks: str = "sampled",
) -> tuple[list[Path], dict[str, str]]:
    """Writes the table and figures of the runs under `paths` to `out`; returns the files written
    and the markdown table of each family. With `headline`, also one table of all families
    (families in the order of `paths`), written to headline.md and to the documents' block
    `<!-- metarl-results: headline NAME -->`. `tasks`: the evaluations on that task set
    ('sampled', or 'paper': the MAML paper's test tasks, `metarl-evaluate --tasks paper`)."""
    from metarl.results import docblock, figures, table
    from metarl.results.groups import group_runs
    from metarl.results.runs import find_runs, load_run

    if smooth < 1 or reps < 100:
        raise ResultsError(f"--smooth must be >= 1 and --reps >= 100, got {smooth} and {reps}.")
    if headline is not None and not docblock.NAME.fullmatch(headline):
        raise ResultsError(
            f"--headline {headline!r}: a block name is letters, digits, '_', '.' and '-' "
            "(e.g. --headline paper)."
        )
    run_paths = list(dict.fromkeys(run for path in paths for run in find_runs([path])))
    records = [load_run(path, tasks) for path in run_paths]
    groups = group_runs(records)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    tables: dict[str, str] = {}
    summaries: list[table.AdaptationSummary] = []
    for family in dict.fromkeys(g.family for g in groups):
        family_groups = [g for g in groups if g.family == family]
        found = [table.summarise(g, reps) for g in family_groups]
        family_summaries = [s for s in found if s is not None]
        if family_summaries:
            summaries += family_summaries
            tables[family] = f"#### {family}\n\n" + table.markdown(
                family, family_summaries, reps, tasks
            )
            fig = figures.family_adaptation_figure(family, family_summaries)
            written += figures.save(fig, out / f"adaptation_{family}")
        fig = figures.family_training_figure(family, family_groups, smooth)
        if fig is not None:
            written += figures.save(fig, out / f"training_{family}")
    if not tables and not written:
        raise ResultsError(
            f"The runs under {', '.join(map(str, paths))} have no results yet: no "
            "eval/adaptation.json and no progress.csv or TensorBoard scalars. Evaluate a run "
            "with python -m metarl.evaluate RUN_DIR."
        )
    if tables:
        (out / "results.md").write_text("\n".join(tables.values()))
        table.write_csv(out / "results.csv", summaries)
        written += [out / "results.md", out / "results.csv"]
    blocks = {("table", family): text.split("\n", 2)[2] for family, text in tables.items()}
    if headline is not None:
        if not summaries:
            raise ResultsError(
                "--headline needs runs with a final evaluation (eval/adaptation.json); evaluate "
                "them with python -m metarl.evaluate RUN_DIR."
            )
        order = list(dict.fromkeys(record.family for record in records))
        ranked = sorted(summaries, key=lambda s: order.index(s.group.family))
        # A headline's runs are a selection across families: the per-family blocks of a
        # document belong to their own commands and runs, so only the headline block is filled.
        blocks = {("headline", headline): table.headline(ranked, reps, tasks)}
        (out / "headline.md").write_text(blocks["headline", headline])
        written.append(out / "headline.md")
    for doc in update_docs or []:
        _, untouched = docblock.update(doc, blocks)
        if untouched:
            print(f"{doc}: left as they were (no runs of theirs given): {', '.join(untouched)}")
        written.append(doc)
    return written, tables
