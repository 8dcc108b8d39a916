"""Paired comparisons (``report --compare BASELINE``): each model minus the baseline on the same items.

lm-eval's standard errors are per model and unpaired. Here every benchmark's items are paired through lm-eval's
per-sample logs (``--log_samples``): the same ``doc_id`` (and document hash) on both sides. The difference of the
benchmark's score is bootstrapped by resampling items with replacement, the same resample for both models (a paired
bootstrap), B times with a fixed seed; the 95 % interval is the 2.5th-97.5th percentile of the B differences, and a
difference is marked when its interval excludes 0.

Scores are the tables' own, recomputed from per-item sufficient statistics (a registry, :data:`PAIRED_METRICS`):

* ``acc`` (multiple choice): the mean of per-item accuracies;
* ``bleu`` (Flores): corpus BLEU from summed per-sentence statistics (sacrebleu's n-gram matches and totals,
  hypothesis and closest-reference lengths), equal to sacrebleu's ``corpus_bleu`` of the whole set as lm-eval
  computes it;
* ``inst_level_strict_acc`` (IFEval): followed instructions over all instructions, resampled over prompts.

A language average (``iberian_{lang}``: accuracy; ``iberian_flores_to_{lang}``: BLEU) is the unweighted mean of its
member benchmarks, as the tables: each member's items are resampled independently and the average recomputed per
resample. Several runs of one model (seeds) are pooled per item (statistics summed). An item scored on one side only
is an error naming the benchmark, never dropped.
"""

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

from lm_eval_iberian._errors import UsageError
from lm_eval_iberian.report._records import LANGS, ReportError, RunRecord, _short

__all__ = ["PAIRED_METRICS", "Comparison", "ComparisonRow", "PairedMetric", "compare_runs", "render_comparisons"]


@dataclass(frozen=True)
class PairedMetric:
    """How one metric's score is rebuilt from per-item statistics (summed over items, then ``score``)."""

    name: str  # the sample field and the results' metric name
    shown: str  # column text
    scale: float  # the tables' scale (accuracies in %)
    stats: Callable[[Any], list[float]]  # one sample's field value -> its sufficient statistics
    score: Callable[[np.ndarray], np.ndarray]  # summed statistics (..., k) -> score (...)


def _ratio(sums: np.ndarray) -> np.ndarray:
    return sums[..., 0] / sums[..., 1]


def _acc_stats(value: Any) -> list[float]:
    return [float(value), 1.0]


def _ifeval_stats(value: Any) -> list[float]:
    if not isinstance(value, list) or not value:
        raise ValueError("inst_level_strict_acc is not a non-empty list of booleans")
    return [float(sum(bool(v) for v in value)), float(len(value))]


@cache
def _bleu() -> Any:
    from sacrebleu.metrics import BLEU

    # lm-eval's corpus_bleu defaults (13a tokenizer, 4-grams); effective_order only changes the per-sentence score,
    # not the statistics summed here (it silences sacrebleu's sentence-level warning)
    return BLEU(effective_order=True)


def _bleu_stats(value: Any) -> list[float]:
    """lm-eval logs a Flores item's ``bleu`` as ``[reference(s), hypothesis]``."""
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError("bleu is not a [reference, hypothesis] pair")
    ref, hyp = value
    refs = [ref] if isinstance(ref, str) else list(ref)
    s = _bleu().sentence_score(hyp if isinstance(hyp, str) else hyp[0], refs)
    return [*map(float, s.counts), *map(float, s.totals), float(s.sys_len), float(s.ref_len)]


def _bleu_score(sums: np.ndarray) -> np.ndarray:
    from sacrebleu.metrics import BLEU

    flat = sums.reshape(-1, sums.shape[-1])
    scores = [BLEU.compute_bleu(row[0:4].astype(int).tolist(), row[4:8].astype(int).tolist(), int(row[8]), int(row[9]),
                                smooth_method="exp").score for row in flat]
    return np.asarray(scores, dtype=float).reshape(sums.shape[:-1])


# First match wins: a leaf task is compared on the first of these its samples carry (the tables' metrics).
PAIRED_METRICS: dict[str, PairedMetric] = {
    "inst_level_strict_acc": PairedMetric("inst_level_strict_acc", "IFEval inst. strict (%)", 100, _ifeval_stats, _ratio),
    "bleu": PairedMetric("bleu", "BLEU", 1, _bleu_stats, _bleu_score),
    "acc": PairedMetric("acc", "acc (%)", 100, _acc_stats, _ratio),
}
# Language averages, as the benchmark and MT tables define them.
AVERAGES: list[tuple[str, str]] = [("iberian_{lang}", "acc"), ("iberian_flores_to_{lang}", "bleu")]


@dataclass
class _Items:
    """One model's per-item statistics on one benchmark (pooled over its runs)."""

    ids: list[Any]
    hashes: dict[Any, str]
    stats: np.ndarray  # (n, k), rows in ``ids`` order


@dataclass
class ComparisonRow:
    benchmark: str
    kind: str  # "task" | "average"
    metric: str
    n: int  # paired items (an average: over its members)
    candidate: float
    baseline: float
    diff: float
    low: float
    high: float
    members: int = 1

    @property
    def significant(self) -> bool:
        return self.low > 0 or self.high < 0


@dataclass
class Comparison:
    candidate: str
    baseline: str
    bootstrap: int
    rows: list[ComparisonRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _metric_of(samples_metrics: list[str]) -> PairedMetric | None:
    return next((m for name, m in PAIRED_METRICS.items() if name in samples_metrics), None)


def _read_items(run: RunRecord, task: str) -> tuple[PairedMetric | None, dict[Any, tuple[str, list[float]]]]:
    import orjson

    path = run.samples.get(task)
    if path is None:
        raise ReportError(f"{run.path}: no per-sample log of {task} beside it (samples_{task}_<date>.jsonl); paired "
                          "comparisons need lm_eval --log_samples (the grid always writes them)")
    metric, chosen_filter, items = None, None, {}
    with open(path, "rb") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError:
                raise ReportError(f"{path}:{line_no}: not valid JSON (a damaged per-sample log)") from None
            if metric is None:
                metric = _metric_of(row.get("metrics") or [k for k in PAIRED_METRICS if k in row])
                if metric is None:
                    return None, {}
            # lm-eval logs one row per item and filter; the tables' numbers are those of the first filter
            chosen_filter = row.get("filter") if chosen_filter is None else chosen_filter
            if row.get("filter") != chosen_filter:
                continue
            doc_id = row.get("doc_id")
            if doc_id in items:
                raise ReportError(f"{path}:{line_no}: doc_id {doc_id} is logged twice (a damaged per-sample log)")
            try:
                items[doc_id] = (str(row.get("doc_hash")), metric.stats(row[metric.name]))
            except (KeyError, ValueError, TypeError) as exc:
                raise ReportError(f"{path}:{line_no}: cannot read {metric.name} of doc_id {doc_id} ({exc})") from None
    return metric, items


def _pooled(runs: list[RunRecord], label: str, task: str) -> tuple[PairedMetric | None, _Items | None]:
    metric, pooled = None, None
    for run in runs:
        m, items = _read_items(run, task)
        if m is None:
            return None, None
        if pooled is None:
            metric, pooled = m, {k: (h, np.asarray(s, dtype=float)) for k, (h, s) in items.items()}
            continue
        if set(items) != set(pooled):
            raise ReportError(f"{task}: the runs of {label} scored different items ({len(pooled)} in one, {len(items)} in "
                              f"{run.path}); pool only runs of the same items (same --limit and data)")
        for k, (h, s) in items.items():
            pooled[k] = (h, pooled[k][1] + np.asarray(s, dtype=float))
    ids = sorted(pooled, key=lambda x: (str(type(x)), x))
    return metric, _Items(ids, {k: pooled[k][0] for k in ids}, np.stack([pooled[k][1] for k in ids]))


def _pair(task: str, cand: _Items, base: _Items, cand_label: str, base_label: str) -> tuple[np.ndarray, np.ndarray]:
    only_c = [i for i in cand.ids if i not in base.hashes]
    only_b = [i for i in base.ids if i not in cand.hashes]
    if only_c or only_b:
        raise ReportError(
            f"{task}: {len(cand.ids)} items in {cand_label} and {len(base.ids)} in {base_label}; {len(only_c)} only in the "
            f"first (doc_id {', '.join(map(str, only_c[:5]))}{'...' if len(only_c) > 5 else ''}), {len(only_b)} only in "
            f"the baseline (doc_id {', '.join(map(str, only_b[:5]))}{'...' if len(only_b) > 5 else ''}); compare runs "
            "of the same items (same --limit and data)")
    differ = [i for i in cand.ids if cand.hashes[i] != base.hashes[i]]
    if differ:
        raise ReportError(f"{task}: doc_id {differ[0]} (and {len(differ) - 1} more) holds a different document in "
                          f"{cand_label} than in {base_label}; the two were scored on different data")
    order = {k: i for i, k in enumerate(base.ids)}
    return cand.stats, base.stats[[order[k] for k in cand.ids]]


def _bootstrap(task: str, a: np.ndarray, b: np.ndarray, metric: PairedMetric, draws: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """B resampled scores of both sides, the same item resample for both (``rng`` fixed per task and seed)."""
    n = len(a)
    rng = np.random.default_rng([seed, zlib.crc32(task.encode())])
    out_a, out_b = np.empty(draws), np.empty(draws)
    chunk = max(1, 2_000_000 // n)
    for start in range(0, draws, chunk):
        size = min(chunk, draws - start)
        weights = rng.multinomial(n, np.full(n, 1.0 / n), size=size).astype(float)  # item counts per resample
        out_a[start:start + size] = metric.score(weights @ a)
        out_b[start:start + size] = metric.score(weights @ b)
    return out_a * metric.scale, out_b * metric.scale


def _row(benchmark: str, kind: str, metric: PairedMetric, n: int, full_a: float, full_b: float, boot_diff: np.ndarray,
         members: int = 1) -> ComparisonRow:
    low, high = np.percentile(boot_diff, [2.5, 97.5])
    return ComparisonRow(benchmark, kind, metric.shown, n, full_a, full_b, full_a - full_b, float(low), float(high), members)


def _baseline_label(runs: list[RunRecord], baseline: str, aliases: dict[str, str]) -> str:
    if baseline in aliases:
        return aliases[baseline]
    labels = list(dict.fromkeys(r.label for r in runs))
    matches = list(dict.fromkeys(r.label for r in runs if baseline in (r.label, r.model, _short(r.model), r.path)))
    if len(matches) == 1:
        return matches[0]
    choices = "; ".join(sorted(set(labels) | set(aliases)))
    if not matches:
        raise ReportError(f"--compare {baseline!r} names none of the runs; give one of: {choices}")
    raise ReportError(f"--compare {baseline!r} names several models ({'; '.join(matches)}); give one of them exactly")


def compare_runs(runs: list[RunRecord], baseline: str, *, bootstrap: int = 1000, seed: int = 0,
                 aliases: dict[str, str] | None = None) -> list[Comparison]:
    """Every other model against ``baseline`` (a row label, model id or name, results path, or an alias)."""
    from lm_eval_iberian.data import expand

    if bootstrap < 1:
        raise ReportError(f"--bootstrap-samples {bootstrap}: give at least 1 (1000 is usual)")
    base_label = _baseline_label(runs, baseline, aliases or {})
    by_label: dict[str, list[RunRecord]] = {}
    for run in runs:
        by_label.setdefault(run.label, []).append(run)
    base_tasks = {t for r in by_label[base_label] for t in r.metrics}
    cache: dict[tuple[str, str], tuple[PairedMetric | None, _Items | None]] = {}

    def items(label: str, task: str) -> tuple[PairedMetric | None, _Items | None]:
        """A model's items on a task, pooled over its runs that scored the task (its seeds)."""
        if (label, task) not in cache:
            cache[(label, task)] = _pooled([r for r in by_label[label] if task in r.metrics], label, task)
        return cache[(label, task)]

    def metrics_of(label: str, task: str) -> list[str]:
        return next(list(r.metrics[task]) for r in by_label[label] if task in r.metrics)

    out = []
    for label, members in by_label.items():
        if label == base_label:
            continue
        comp = Comparison(label, base_label, bootstrap)
        tasks = {t for r in members for t in r.metrics}
        boots: dict[str, tuple[PairedMetric, np.ndarray, np.ndarray, int, float, float]] = {}
        unpaired = []
        for task in sorted(t for t in tasks & base_tasks if t in _leafs()):
            if _metric_of(metrics_of(base_label, task)) is None:
                unpaired.append(task)  # a metric without a paired statistic here (e.g. perplexity)
                continue
            metric, cand = items(label, task)
            _, base = items(base_label, task)
            if metric is None or cand is None or base is None:
                unpaired.append(task)
                continue
            a, b = _pair(task, cand, base, label, base_label)
            boot_a, boot_b = _bootstrap(task, a, b, metric, bootstrap, seed)
            full_a = float(metric.score(a.sum(axis=0))) * metric.scale
            full_b = float(metric.score(b.sum(axis=0))) * metric.scale
            boots[task] = (metric, boot_a, boot_b, len(a), full_a, full_b)
            comp.rows.append(_row(task, "task", metric, len(a), full_a, full_b, boot_a - boot_b))
        for lang in LANGS:
            for pattern, metric_name in AVERAGES:
                group = pattern.format(lang=lang)
                try:
                    group_leaves = expand([group])
                except UsageError:  # a name this package does not define
                    continue
                present = [t for t in group_leaves if t in boots and boots[t][0].name == metric_name]
                if not present:
                    continue
                if len(present) < len(group_leaves):
                    missing = [t for t in group_leaves if t not in present]
                    comp.notes.append(f"{group} average not computed: {', '.join(missing)} not scored by both")
                    continue
                metric = PAIRED_METRICS[metric_name]
                avg_a = np.mean([boots[t][1] for t in present], axis=0)
                avg_b = np.mean([boots[t][2] for t in present], axis=0)
                full_a = float(np.mean([boots[t][4] for t in present]))
                full_b = float(np.mean([boots[t][5] for t in present]))
                comp.rows.append(_row(group, "average", metric, sum(boots[t][3] for t in present), full_a, full_b,
                                      avg_a - avg_b, len(present)))
        only_c = sorted(t for t in tasks - base_tasks if t in _leafs())
        only_b = sorted(t for t in base_tasks - tasks if t in _leafs())
        if only_c:
            comp.notes.append(f"not compared, scored only by {label}: {', '.join(only_c)}")
        if only_b:
            comp.notes.append(f"not compared, scored only by the baseline: {', '.join(only_b)}")
        if unpaired:
            comp.notes.append(f"not compared (no paired statistic for their metrics): {', '.join(unpaired)}")
        out.append(comp)
    if not out:
        raise ReportError(f"only the baseline {base_label} is among the runs; pass the results of the models to compare too")
    return out


@cache
def _leafs() -> frozenset[str]:
    from lm_eval_iberian.data import leaf_tasks

    return frozenset(leaf_tasks())


def _fmt(value: float, signed: bool = False) -> str:
    return f"{value:+.2f}" if signed else f"{value:.2f}"


def render_comparisons(comparisons: list[Comparison], fmt: str) -> str:
    """``md`` / ``latex``: one table per model; ``csv``: one table, a row per model and benchmark."""
    if fmt not in {"md", "csv", "latex"}:
        raise ReportError(f"unknown format {fmt!r}; choose md, csv or latex")
    if fmt == "csv":
        import csv
        import io

        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["model", "baseline", "benchmark", "kind", "metric", "items", "model_score", "baseline_score",
                         "difference", "ci_low", "ci_high", "significant", "bootstrap_samples"])
        for comp in comparisons:
            for r in comp.rows:
                writer.writerow([comp.candidate, comp.baseline, r.benchmark, r.kind, r.metric, r.n, repr(r.candidate),
                                 repr(r.baseline), repr(r.diff), repr(r.low), repr(r.high), int(r.significant), comp.bootstrap])
        return buf.getvalue().rstrip("\n")
    blocks = []
    for comp in comparisons:
        title = (f"Paired comparison: {comp.candidate} minus {comp.baseline} (95 % paired bootstrap interval over items, "
                 f"B={comp.bootstrap}; * the interval excludes 0)")
        body = []
        for r in comp.rows:
            name = r.benchmark if r.kind == "task" else f"{r.benchmark} (average of {r.members})"
            ci = f"[{_fmt(r.low, True)}, {_fmt(r.high, True)}]"
            body.append([name, r.metric, str(r.n), _fmt(r.candidate), _fmt(r.baseline), _fmt(r.diff, True), ci,
                         "*" if r.significant else ""])
        notes = "".join(f"\n\n{n}" for n in comp.notes)
        if fmt == "md":
            head = "| benchmark | metric | items | model | baseline | difference | 95 % CI | |\n|---|---|---|---|---|---|---|---|"
            rows = "\n".join("| " + " | ".join(b) + " |" for b in body) or "(no benchmark scored by both)"
            blocks.append(f"{title}\n\n{head}\n{rows}{notes}")
        else:
            esc = [[c.replace("_", "\\_").replace("%", "\\%") for c in b] for b in body]
            rows = "\n".join(" & ".join(b) + " \\\\" for b in esc)
            blocks.append(f"% {title}\n\\begin{{tabular}}{{llrrrrlc}}\n\\toprule\nBenchmark & Metric & Items & Model & "
                          f"Baseline & $\\Delta$ & 95\\% CI & \\\\\n\\midrule\n{rows}\n\\bottomrule\n\\end{{tabular}}"
                          + "".join(f"\n% {n}" for n in comp.notes))
    return "\n\n".join(blocks)
