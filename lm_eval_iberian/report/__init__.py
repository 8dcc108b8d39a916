"""Result files -> the paper's tables and weight-sweep plots (``lm-eval-iberian report``)."""

from lm_eval_iberian.report._plot import plot_sweep, sweep_figure, swept_model
from lm_eval_iberian.report._records import ReportError, RunRecord, load_run, load_runs, merge_label
from lm_eval_iberian.report._tables import TABLES, Table, build_table, render

__all__ = [
    "TABLES",
    "ReportError",
    "RunRecord",
    "Table",
    "build_table",
    "load_run",
    "load_runs",
    "merge_label",
    "plot_sweep",
    "render",
    "sweep_figure",
    "swept_model",
]
