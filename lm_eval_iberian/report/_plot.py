"""The weight-sweep figure (paper Fig. 1): score against the swept weight, per sweep and metric.

One row per sweep (same method and inputs, one input's weight varying), one column per metric that the runs
hold. Each language is a line; the merge's target language is drawn bold, the others thin. The unmerged models
of the recipe, when their own results are among the runs (e.g. the instruct model and the expert), are dotted
horizontal reference lines in the language's colour.
"""

from pathlib import Path

from lm_eval_iberian._paths import atomic_open
from lm_eval_iberian.report._records import LANGS, ReportError, RunRecord

# (title, y label with its unit, task pattern, metric, scale, smallest y-axis top); every value is >= 0
PANELS = (
    ("Benchmark average", "accuracy (%)", "iberian_{lang}", "acc", 100, 1.0),
    ("Flores into the language", "BLEU", "iberian_flores_to_{lang}", "bleu", 1, 1.0),
    ("IFEval", "instruction-level strict accuracy (%)", "iberian_ifeval_{lang}", "inst_level_strict_acc", 100, 1.0),
    ("Held-out text (lower is better)", "bits per byte", "iberian_ppl_{lang}", "bits_per_byte", 1, 0.0),
)
# Line style of each unmerged input's own result, by its role in the sweep.
_ROLE_STYLES = {"other": (":", "other input alone (e.g. the instruct model)"), "swept": ("--", "swept input alone (e.g. the expert)"),
                "base": ("-.", "base model alone")}


def _short(model: str) -> str:
    return model.rstrip("/").split("/")[-1].split("@")[0]


def swept_model(runs: list[RunRecord]) -> str:
    """The input whose weight changes across the runs (the x axis)."""
    names = {n for r in runs for n in r.weights}
    varying = [n for n in sorted(names) if len({r.weights.get(n) for r in runs}) > 1]
    if len(varying) != 1:
        raise ReportError(f"a sweep plot needs runs whose recipes differ in one model's weight; varying: {varying or 'none'}")
    return varying[0]


def _sweeps(runs: list[RunRecord]) -> list[tuple[str, list[RunRecord]]]:
    merges = [r for r in runs if r.method and r.weights]
    if not merges:
        raise ReportError("no merged runs with weights among the results; sweep plots need `--model merged` (or sweep) results")
    groups: dict[tuple[str, tuple[str, ...]], list[RunRecord]] = {}
    for r in merges:
        groups.setdefault((r.method, tuple(sorted(r.weights))), []).append(r)
    rows = [(method, group) for (method, _), group in sorted(groups.items())
            if len({tuple(sorted(r.weights.items())) for r in group}) > 1]
    if not rows:
        raise ReportError("no sweep among the results: every merge was run at a single set of weights")
    return rows


def _references(group: list[RunRecord], runs: list[RunRecord], swept: str) -> list[tuple[str, RunRecord]]:
    """(role, run) for the recipe's own input models whose unmerged results are among the runs."""
    inputs = [_short(e["model"]) for e in (group[0].recipe or {}).get("models") or []]
    base = (group[0].recipe or {}).get("base_model")
    plain = {_short(r.model): r for r in runs if not r.method}
    roles = [("other", n) for n in inputs if n != swept] + [("swept", swept)] + ([("base", _short(base))] if base else [])
    return [(role, plain[name]) for role, name in roles if name in plain]


def plot_sweep(runs: list[RunRecord], out: str | Path) -> Path:
    """Write a PNG: one row per sweep, one column per metric present, one line per language."""
    import matplotlib.pyplot as plt

    fig = sweep_figure(runs)
    out = Path(out)
    with atomic_open(out, "wb") as fh:
        fig.savefig(fh, format="png", dpi=120)
    plt.close(fig)
    return out


def sweep_figure(runs: list[RunRecord]):  # noqa: ANN201 - a matplotlib Figure (imported lazily)
    """The sweep figure as a matplotlib ``Figure`` (:func:`plot_sweep` writes it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    rows = _sweeps(runs)
    panels = [p for p in PANELS if any(r.value(p[2].format(lang=lang), p[3]) is not None for r in runs for lang in LANGS)]
    if not panels:
        raise ReportError("the sweep's results hold none of the plotted metrics (iberian_<lang> acc, Flores BLEU, IFEval, "
                          "iberian_ppl_<lang>); evaluate the sweep on those tasks")
    colours = dict(zip(LANGS, plt.get_cmap("tab10").colors, strict=False))
    fig = plt.figure(layout="constrained", figsize=(4.3 * len(panels), 3.3 * len(rows) + 0.8))
    subfigs = fig.subfigures(len(rows), 1, squeeze=False)[:, 0]
    languages: dict[str, Line2D] = {}
    unmerged: dict[str, Line2D] = {}
    for subfig, (method, group) in zip(subfigs, rows, strict=True):
        model = swept_model(group)
        target = group[0].target_lang
        references = _references(group, runs, model)
        others = " + ".join(f"{n}×{w:g}" for n, w in sorted(group[0].weights.items()) if n != model)
        subfig.suptitle(f"{method}: {model} (weight swept) + {others}" + (f" — target language {target.upper()}" if target else ""),
                        fontsize=10, fontweight="bold")
        axes = subfig.subplots(1, len(panels), squeeze=False)[0]
        for ax, (title, ylabel, task, metric, scale, min_top) in zip(axes, panels, strict=True):
            for lang in LANGS:
                by_x: dict[float, list[float]] = {}
                for r in group:
                    v = r.value(task.format(lang=lang), metric)
                    if model in r.weights and v is not None:
                        by_x.setdefault(r.weights[model], []).append(v * scale)
                if not by_x:
                    continue
                xs = sorted(by_x)  # several seeds at one weight: their mean
                ys = [sum(by_x[x]) / len(by_x[x]) for x in xs]
                faded = target is not None and lang != target
                ax.plot(xs, ys, marker="o", markersize=4 if faded else 6, color=colours[lang],
                        linewidth=1.1 if faded else 2.6, alpha=0.5 if faded else 1.0, zorder=2 if faded else 3)
                languages.setdefault(lang, Line2D([], [], color=colours[lang], marker="o", linewidth=1.6, label=lang.upper()))
                for role, ref in references:
                    value = ref.value(task.format(lang=lang), metric)
                    if value is not None:
                        style, label = _ROLE_STYLES[role]
                        ax.axhline(value * scale, color=colours[lang], linestyle=style, linewidth=1.0, alpha=0.45 if faded else 0.95)
                        unmerged.setdefault(role, Line2D([], [], color="0.35", linestyle=style, linewidth=1.2, label=label))
            ax.set_xticks(sorted({r.weights[model] for r in group if model in r.weights}))
            ax.set_title(title, fontsize=9)
            ax.set_xlabel(f"weight of {model}", fontsize=8)
            ax.set_ylabel(ylabel, fontsize=8)
            ax.ticklabel_format(axis="y", useOffset=False, style="plain")
            ax.tick_params(labelsize=8)
            ax.grid(alpha=0.3)
            low, high = ax.get_ylim()
            ax.set_ylim(bottom=max(0.0, low), top=max(high, min_top, 1e-6))  # never negative; near-0 scores on [0, 1]
    handles = [languages[lang] for lang in LANGS if lang in languages]
    handles.append(Line2D([], [], color="0.35", linewidth=2.6, label="thick: the merge's target language"))
    handles += [unmerged[role] for role in _ROLE_STYLES if role in unmerged]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8, frameon=False)
    return fig
