"""The weight-sweep figure (paper Fig. 1): score against the swept weight, per method and metric."""

from pathlib import Path

from lm_eval_iberian.report._records import LANGS, RunRecord

PANELS = (
    ("Benchmark average (%)", "iberian_{lang}", "acc", 100),
    ("Flores BLEU into the language", "iberian_flores_to_{lang}", "bleu", 1),
    ("IFEval inst-level strict (%)", "iberian_ifeval_{lang}", "inst_level_strict_acc", 100),
    ("Held-out bits per byte (lower is better)", "iberian_ppl_{lang}", "bits_per_byte", 1),
)


def swept_model(runs: list[RunRecord]) -> str:
    """The input whose weight changes across the runs (the x axis)."""
    names = {n for r in runs for n in r.weights}
    varying = [n for n in sorted(names) if len({r.weights.get(n) for r in runs}) > 1]
    if len(varying) != 1:
        raise ValueError(f"a sweep plot needs runs whose recipes differ in one model's weight; varying: {varying or 'none'}")
    return varying[0]


def plot_sweep(runs: list[RunRecord], out: str | Path) -> Path:
    """Write a PNG: one row per merge method, one column per metric, one line per language."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    merges = [r for r in runs if r.method and r.weights]
    if not merges:
        raise ValueError("no merged runs with weights among the results; sweep plots need `--model merged` results")
    # One row per sweep: same method and inputs, one input's weight varying.
    sweeps: dict[tuple[str, tuple[str, ...]], list[RunRecord]] = {}
    for r in merges:
        sweeps.setdefault((r.method, tuple(sorted(r.weights))), []).append(r)
    rows = [(method, group) for (method, _), group in sorted(sweeps.items()) if len({tuple(sorted(r.weights.items())) for r in group}) > 1]
    if not rows:
        raise ValueError("no sweep among the results: every merge was run at a single set of weights")
    fig, axes = plt.subplots(len(rows), len(PANELS), figsize=(4.2 * len(PANELS), 3.2 * len(rows)), squeeze=False)
    for i, (method, group) in enumerate(rows):
        model = swept_model(group)
        for j, (title, task, metric, scale) in enumerate(PANELS):
            ax = axes[i][j]
            for lang in LANGS:
                by_x: dict[float, list[float]] = {}
                for r in group:
                    v = r.value(task.format(lang=lang), metric)
                    if model in r.weights and v is not None:
                        by_x.setdefault(r.weights[model], []).append(v * scale)
                if by_x:  # several seeds at one weight: their mean
                    xs = sorted(by_x)
                    ax.plot(xs, [sum(by_x[x]) / len(by_x[x]) for x in xs], marker="o", label=lang.upper())
            ax.set_title(f"{method}: {title}", fontsize=9)
            ax.set_xlabel(f"weight of {model}", fontsize=8)
            ax.grid(alpha=0.3)
            if ax.lines:
                ax.legend(fontsize=7)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
