"""lm-eval-iberian: Merge-and-Conquer evaluation of Iberian languages as an lm-eval plugin.

Public API (everything else is private and may change):

* :func:`tasks_path` — the folder to pass to lm-eval as ``include_path``;
* :func:`demo_data_dir` — the small demo mirror shipped with the package;
* :mod:`lm_eval_iberian.data` — offline data mirror (pull / add / verify, loader).
"""

from pathlib import Path

from lm_eval_iberian._version import __version__

__all__ = ["__version__", "demo_data_dir", "tasks_path"]


def tasks_path() -> str:
    """Folder holding the ``iberian_*`` task YAMLs (pass it as lm-eval's ``include_path``)."""
    from lm_eval_iberian import tasks

    return str(Path(tasks.__file__).parent)


def demo_data_dir() -> str:
    """Folder of the demo mirror shipped with the package (use as ``IBERIAN_DATA_DIR``)."""
    return str(Path(__file__).parent / "data" / "demo")
