"""The paper's tables from run records: one builder per table in a registry, three renderers."""

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from lm_eval_iberian.report._records import LANGS, ReportError, RunRecord

Cell = tuple[float, float | None] | None  # (mean, SD over seeds) or missing


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[str]
    cells: dict[tuple[str, str], Cell] = field(default_factory=dict)
    show_sd: bool = False
    decimals: int = 1  # what md/latex show; "best" is decided on the shown value
    higher_is_better: bool = True

    def shown(self, value: float) -> float:
        return round(value, self.decimals)

    def best(self, column: str) -> float | None:
        """The best value as shown, or None when the column does not single anything out (fewer than two
        values, or every value shows the same)."""
        values = {self.shown(c[0]) for r in self.rows if (c := self.cells.get((r, column))) is not None}
        if len(values) < 2:
            return None
        return max(values) if self.higher_is_better else min(values)

    def is_best(self, row: str, column: str) -> bool:
        cell = self.cells.get((row, column))
        best = self.best(column)
        return cell is not None and best is not None and self.shown(cell[0]) == best


def _grouped(runs: list[RunRecord]) -> dict[str, list[RunRecord]]:
    """Runs of the same model or merge (differing only in seed) share a row."""
    groups: dict[str, list[RunRecord]] = {}
    for run in runs:
        groups.setdefault(run.label, []).append(run)
    return groups


def _cell(values: list[float], scale: float) -> Cell:
    if not values:
        return None
    scaled = [v * scale for v in values]
    sd = statistics.stdev(scaled) if len(scaled) > 1 else None
    return statistics.fmean(scaled), sd


def _drop_empty_rows(table: Table) -> Table:
    """A model not scored on anything in this table (e.g. a base model scored on perplexity only) has no row."""
    table.rows = [r for r in table.rows if any(table.cells.get((r, c)) is not None for c in table.columns)]
    return table


def _per_language(title: str, task: str, metric: str, scale: float, header: str, show_sd: bool = False,
                  decimals: int = 1, higher_is_better: bool = True):
    def build(runs: list[RunRecord]) -> Table:
        columns = [header.format(lang=lang.upper()) for lang in LANGS]
        groups = _grouped(runs)
        table = Table(title, columns, list(groups), show_sd=show_sd, decimals=decimals, higher_is_better=higher_is_better)
        for label, members in groups.items():
            for lang, column in zip(LANGS, columns, strict=True):
                values = [v for r in members if (v := r.value(task.format(lang=lang), metric)) is not None]
                table.cells[(label, column)] = _cell(values, scale)
        return _drop_empty_rows(table)

    return build


def _methods(runs: list[RunRecord]) -> Table:
    """Merge methods x languages: the benchmark average of each language's own merge, and the mean."""
    merges = [r for r in runs if r.method]
    methods = sorted({r.method for r in merges})
    targets = [lang for lang in LANGS if lang != "en"]  # merges teach eu/gl/ca/es to an instruct model
    columns = [lang.upper() for lang in targets] + ["Avg"]
    table = Table("Merge methods: benchmark average of the target language (Avg: over the languages present)", columns, methods)
    for method in methods:
        row = []
        for lang in targets:
            values = [v for r in merges if r.method == method and r.target_lang == lang
                      and (v := r.value(f"iberian_{lang}", "acc")) is not None]
            cell = _cell(values, 100)
            table.cells[(method, lang.upper())] = cell
            if cell:
                row.append(cell[0])
        table.cells[(method, "Avg")] = (statistics.fmean(row), None) if row else None
    return _drop_empty_rows(table)


TABLES: dict[str, Callable[[list[RunRecord]], Table]] = {
    "benchmarks": _per_language("Benchmark average (accuracy, %)", "iberian_{lang}", "acc", 100, "{lang}"),
    "mt": _per_language("Flores BLEU, mean over the directions into each language", "iberian_flores_to_{lang}", "bleu", 1, "*-{lang}"),
    "ifeval": _per_language("IFEval strict instruction-level accuracy (%), mean ± SD over seeds", "iberian_ifeval_{lang}",
                            "inst_level_strict_acc", 100, "{lang}", show_sd=True),
    "methods": _methods,
    "perplexity": _per_language("Held-out perplexity: bits per byte on FLORES+ devtest (lower is better)", "iberian_ppl_{lang}",
                                "bits_per_byte", 1, "{lang}", decimals=3, higher_is_better=False),
}


def build_table(name: str, runs: list[RunRecord]) -> Table:
    try:
        builder = TABLES[name]
    except KeyError:
        raise ReportError(f"unknown table {name!r}; choose one of {', '.join(TABLES)}") from None
    return builder(runs)


def _text(table: Table, cell: Cell) -> str:
    if cell is None:
        return "–"
    mean, sd = cell
    number = f"{mean:.{table.decimals}f}"
    return f"{number} ± {sd:.{table.decimals}f}" if table.show_sd and sd is not None else number


def render(table: Table, fmt: str) -> str:
    """``md`` (best per column in bold), ``csv`` (plain numbers, SD in its own column), ``latex`` (\\textbf)."""
    if fmt not in {"md", "csv", "latex"}:
        raise ReportError(f"unknown format {fmt!r}; choose md, csv or latex")
    if fmt == "csv":
        import csv
        import io

        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["model", *[c for col in table.columns for c in (col, f"{col}_sd")]] if table.show_sd else ["model", *table.columns])
        for row in table.rows:
            out = [row]
            for col in table.columns:
                cell = table.cells.get((row, col))
                out.append("" if cell is None else repr(float(cell[0])))
                if table.show_sd:
                    out.append("" if cell is None or cell[1] is None else repr(float(cell[1])))
            writer.writerow(out)
        return buf.getvalue().rstrip("\n")
    lines = []
    for row in table.rows:
        texts = []
        for col in table.columns:
            text = _text(table, table.cells.get((row, col)))
            if table.is_best(row, col):
                text = f"**{text}**" if fmt == "md" else f"\\textbf{{{text}}}"
            texts.append(text.replace("±", "$\\pm$") if fmt == "latex" else text)
        name = row.replace("_", "\\_").replace("×", "$\\times$") if fmt == "latex" else row
        lines.append((name, texts))
    if fmt == "md":
        head = f"| model | {' | '.join(table.columns)} |\n|---|{'---|' * len(table.columns)}"
        if not lines:
            return f"{table.title}\n\n(no run has these results)"
        return f"{table.title}\n\n{head}\n" + "\n".join(f"| {n} | {' | '.join(t)} |" for n, t in lines)
    cols = "l" + "r" * len(table.columns)
    header = " & ".join(["Model", *(c.replace("*", "\\textasteriskcentered{}") for c in table.columns)])
    body = "\n".join(f"{n} & {' & '.join(t)} \\\\" for n, t in lines)
    return f"% {table.title}\n\\begin{{tabular}}{{{cols}}}\n\\toprule\n{header} \\\\\n\\midrule\n{body}\n\\bottomrule\n\\end{{tabular}}"
