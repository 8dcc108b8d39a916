"""Offline data mirror for the ``iberian_*`` tasks.

* :func:`pull` / :func:`add` / :func:`verify` fill and check a mirror folder;
* :func:`load_task_dataset` / :func:`load_flores_pair` are what the task YAMLs
  call (``custom_dataset: !function ...``); with ``IBERIAN_DATA_DIR`` set they
  read only from the mirror.
"""

from lm_eval_iberian.data._catalog import SplitRef, expand, groups, leaf_tasks, required_files
from lm_eval_iberian.data._loader import load_flores_pair, load_task_dataset
from lm_eval_iberian.data._mirror import DATA_DIR_ENV, MANIFEST_NAME, MirrorError, VerifyReport, verify
from lm_eval_iberian.data._schemas import SCHEMAS, DatasetSchema
from lm_eval_iberian.data._transfer import add, pull

__all__ = [
    "DATA_DIR_ENV",
    "MANIFEST_NAME",
    "SCHEMAS",
    "DatasetSchema",
    "MirrorError",
    "SplitRef",
    "VerifyReport",
    "add",
    "expand",
    "groups",
    "leaf_tasks",
    "load_flores_pair",
    "load_task_dataset",
    "pull",
    "required_files",
    "verify",
]
