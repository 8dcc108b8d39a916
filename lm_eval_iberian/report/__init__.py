"""Result files -> the paper's tables and weight-sweep plots (``lm-eval-iberian report``)."""

from lm_eval_iberian.report._compare import PAIRED_METRICS, Comparison, ComparisonRow, compare_runs, render_comparisons
from lm_eval_iberian.report._plot import plot_sweep, sweep_figure, swept_model
from lm_eval_iberian.report._records import ReportError, RunRecord, load_run, load_runs, merge_label
from lm_eval_iberian.report._tables import TABLES, Table, build_table, render

__all__ = [
    "PAIRED_METRICS",
    "TABLES",
    "Comparison",
    "ComparisonRow",
    "ReportError",
    "RunRecord",
    "Table",
    "build_table",
    "compare_runs",
    "load_run",
    "load_runs",
    "merge_label",
    "plot_sweep",
    "render",
    "render_comparisons",
    "sweep_figure",
    "swept_model",
]
