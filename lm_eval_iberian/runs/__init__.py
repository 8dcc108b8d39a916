"""The paper's evaluation grid as one resumable command (``lm-eval-iberian grid``), on Slurm or locally.

* :func:`load_plan` — read and validate a plan file (:class:`GridPlan`; errors are :class:`PlanError`);
* :func:`expand_plan` — its jobs (:class:`Job`: model or sweep × task group × seed), each keyed by the hash of
  what determines its result, after validating recipes, sweeps, models and tasks;
* :func:`run_grid` — submit what is neither done nor still queued (submitit: Slurm job arrays, or local
  processes), wait, retry failures; :func:`grid_status` — done / running / pending / failed / todo per job;
* :func:`job_results` — a done job's results files (what ``grid report`` reads);
* :func:`run_job` — what each job runs on its node.
"""

from lm_eval_iberian.runs._jobs import Grid, Job, expand_plan, job_done, job_results
from lm_eval_iberian.runs._plan import GridPlan, PlanError, load_plan
from lm_eval_iberian.runs._submit import EXECUTORS, GridError, JobStatus, format_status, grid_status, run_grid
from lm_eval_iberian.runs._worker import run_job

__all__ = [
    "EXECUTORS",
    "Grid",
    "GridError",
    "GridPlan",
    "Job",
    "JobStatus",
    "PlanError",
    "expand_plan",
    "format_status",
    "grid_status",
    "job_done",
    "job_results",
    "load_plan",
    "run_grid",
    "run_job",
]
