"""lm-eval-iberian: Merge-and-Conquer evaluation of Iberian languages as an lm-eval plugin.

Public API (everything else is private and may change):

* :func:`tasks_path` — the folder to pass to lm-eval as ``include_path``;
* :func:`demo_data_dir` — the small demo mirror shipped with the package;
* :func:`recipes_path` — the paper's merge recipes (``merge_models/``);
* :mod:`lm_eval_iberian.merge` — merges computed straight into memory (``--model merged``);
* :mod:`lm_eval_iberian.data` — offline data mirror (pull / add / verify, loader);
* :mod:`lm_eval_iberian.testing` — tiny offline models for tests and the demo.

This module is imported at interpreter start by the lm-eval start-up hook
(through ``lm_eval_iberian._startup``), so it imports nothing beyond ``os``.
"""

import os

__version__ = "0.1.0"
__all__ = ["__version__", "demo_data_dir", "recipes_path", "tasks_path"]

_HERE = os.path.dirname(os.path.abspath(__file__))


def tasks_path() -> str:
    """Folder holding the ``iberian_*`` task YAMLs (pass it as lm-eval's ``include_path``)."""
    from lm_eval_iberian import tasks

    return os.path.dirname(os.path.abspath(tasks.__file__))


def recipes_path() -> str:
    """Folder of the paper's merge recipes (mergekit YAML), one subfolder per model family."""
    from lm_eval_iberian import merge_models

    return os.path.dirname(os.path.abspath(merge_models.__file__))


def demo_data_dir() -> str:
    """Folder of the demo mirror shipped with the package (use it as ``IBERIAN_DATA_DIR``)."""
    return os.path.join(_HERE, "data", "demo")
