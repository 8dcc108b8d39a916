"""Result files -> the paper's tables and weight-sweep plots (``lm-eval-iberian report``)."""

from lm_eval_iberian.report._plot import plot_sweep, swept_model
from lm_eval_iberian.report._records import RunRecord, load_run, load_runs
from lm_eval_iberian.report._tables import TABLES, Table, build_table, render

__all__ = ["TABLES", "RunRecord", "Table", "build_table", "load_run", "load_runs", "plot_sweep", "render", "swept_model"]
