"""Submitting, waiting, retrying: the grid's executors (submitit's Slurm and local executors) and ``grid.json``.

* ``slurm``: every job still to run goes into one job array (``submitit.SlurmExecutor.map_array``); states come
  from Slurm's accounting through submitit (one ``sacct`` call per poll for all jobs), with ``squeue`` for a job
  accounting does not know yet (or at all).
* ``local``: submitit's ``LocalExecutor``, one process per job, started by this command as slots free up: one
  slot per ``gpus_per_job`` visible GPUs (``CUDA_VISIBLE_DEVICES`` is set per job), or ``max_parallel`` slots
  (default 1: one job after another) for CPU jobs.

``OUT/grid.json`` records every attempt (executor, scheduler id, log files, final state), so a later ``grid run``
recognises jobs still queued or running and waits for them instead of submitting them again, and ``grid status``
can show each job's state and log. A job counts as done only from its results on disk (``_jobs.job_done``).
"""

import contextlib
import fcntl
import io
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lm_eval_iberian._errors import UserError
from lm_eval_iberian.runs._jobs import Grid, Job, job_done, named_plan
from lm_eval_iberian.runs._plan import PlanError, parse_time_minutes

__all__ = ["EXECUTORS", "GridError", "JobStatus", "grid_status", "run_grid"]

STATE_FILE = "grid.json"
STATE_FORMAT = 1
LOCK_FILE = ".grid.lock"
ACTIVE = ("PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "SUSPENDED", "RESIZING", "UNKNOWN")


class GridError(UserError, RuntimeError):
    """The grid cannot run as asked (output folder, scheduler, another run in progress); names the fix."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _last_line(path: str | None) -> str:
    if not path or not Path(path).is_file():
        return ""
    with open(path, "rb") as fh:
        fh.seek(max(0, os.path.getsize(path) - 8192))
        lines = [ln.strip() for ln in fh.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


# --- executors -----------------------------------------------------------------------------------------------------

class _Executor:
    name = ""
    capacity: int | None = None  # jobs this command keeps running at once; None: the scheduler queues them all

    def __init__(self, grid: Grid) -> None:
        self.grid = grid
        self.res = grid.plan.resources
        self.logs = grid.output / "logs" / "%j"

    def check(self) -> None:
        """Plan errors that depend on the executor (before anything is written)."""

    def submit(self, jobs: list[Job]) -> list[dict[str, Any]]:
        raise NotImplementedError

    def states(self, attempts: list[dict[str, Any]]) -> list[str]:
        raise NotImplementedError

    def stop(self) -> None:
        """On an interrupt: what this command started and must not leave behind."""


def _gone_slurm_ids(ids: list[str]) -> set[str]:
    """Of these ids, those squeue does not list (finished long ago, or unknown to this cluster)."""
    gone = set()
    for job_id in ids:
        proc = subprocess.run(["squeue", "-h", "-o", "%T", "-j", job_id], capture_output=True, text=True)
        if proc.returncode != 0 or not proc.stdout.strip():
            gone.add(job_id)
    return gone


class _SlurmExecutor(_Executor):
    name = "slurm"

    def check(self) -> None:
        if shutil.which("sbatch") is None:
            raise PlanError("resources.executor slurm: Slurm's sbatch is not on PATH; run the grid on a node that can "
                            "submit jobs (a login node), or set executor: local")
        if self.res.time is None:
            raise PlanError("resources.time is required with the Slurm executor (submitit always sends a time limit, "
                            "5 minutes if none is given); add e.g. time: \"04:00:00\"")
        proc = subprocess.run(["sinfo", "-h", "-o", "%P"], capture_output=True, text=True)
        if proc.returncode != 0:
            raise GridError(f"`sinfo` failed ({proc.stderr.strip()}); is the Slurm controller reachable from here?")
        rows = proc.stdout.split()
        names = sorted({p.rstrip("*") for p in rows})
        if self.res.partition is not None and self.res.partition not in names:
            raise PlanError(f"resources.partition {self.res.partition!r} does not exist on this cluster; choose one of "
                            f"{', '.join(names) or '(none)'}")
        if self.res.partition is None and not any(p.endswith("*") for p in rows):
            raise PlanError(f"this cluster has no default partition; set resources.partition (one of {', '.join(names)})")

    def _executor(self, count: int) -> Any:
        import submitit

        ex = submitit.SlurmExecutor(folder=str(self.logs))
        mem = None
        if self.res.mem_gb is not None:
            mem = f"{int(self.res.mem_gb)}G" if float(self.res.mem_gb).is_integer() else f"{int(self.res.mem_gb * 1024)}M"
        params = {
            "job_name": f"grid-{self.grid.plan_file.stem}",
            "time": parse_time_minutes(self.res.time),
            "partition": self.res.partition,
            "account": self.res.account,
            "qos": self.res.qos,
            "cpus_per_task": self.res.cpus_per_job,
            "gpus_per_node": self.res.gpus_per_job or None,
            "mem": mem,
            "array_parallelism": self.res.max_parallel or max(count, 1),
            "setup": list(self.res.setup) or None,
            "additional_parameters": {k.removeprefix("--").replace("_", "-"): v
                                      for k, v in self.res.slurm_options.items()} or None,
        }
        ex.update_parameters(**{k: v for k, v in params.items() if v is not None})
        return ex

    def submit(self, jobs: list[Job]) -> list[dict[str, Any]]:
        from submitit.core.utils import FailedJobError

        from lm_eval_iberian.runs._worker import run_job

        try:  # submitit prints sbatch's refusal to stderr, then raises it: it is shown once, in the error below
            with contextlib.redirect_stderr(io.StringIO()):
                handles = self._executor(len(jobs)).map_array(run_job, [str(j.folder) for j in jobs])
        except FailedJobError as exc:
            raise GridError(f"sbatch refused the job array: {str(exc).strip().splitlines()[-1][:500]}; fix the resources "
                            "in the plan") from None
        return [{"executor": self.name, "job_id": h.job_id, "submitted": _now(), "stdout": str(h.paths.stdout),
                 "stderr": str(h.paths.stderr)} for h in handles]

    def states(self, attempts: list[dict[str, Any]]) -> list[str]:
        if not attempts:
            return []
        if shutil.which("sacct") is None:  # no accounting client: queued or running (squeue), else gone
            gone = _gone_slurm_ids([a["job_id"] for a in attempts])
            return ["GONE" if a["job_id"] in gone else "UNKNOWN" for a in attempts]
        import submitit

        handles = [submitit.SlurmJob(folder=str(self.logs), job_id=a["job_id"]) for a in attempts]
        handles[0].get_info(mode="force")  # one sacct call for every registered job
        states = [(h.get_info(mode="cache").get("State") or "UNKNOWN").split()[0].upper() for h in handles]
        unknown = [h.job_id for h, s in zip(handles, states, strict=True) if s == "UNKNOWN"]
        gone = _gone_slurm_ids(unknown) if unknown else set()
        return ["GONE" if h.job_id in gone else s for h, s in zip(handles, states, strict=True)]


def _visible_gpus() -> list[int]:
    """GPU indices this machine shows (CUDA_VISIBLE_DEVICES if set, else every device torch sees)."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        items = [x.strip() for x in env.split(",") if x.strip()]
        if not all(x.isdigit() for x in items):
            raise PlanError(f"CUDA_VISIBLE_DEVICES={env!r}: the local executor needs GPU indices (e.g. 0,1), not UUIDs")
        return [int(x) for x in items]
    import torch

    return list(range(torch.cuda.device_count()))


class _LocalExecutor(_Executor):
    name = "local"

    def __init__(self, grid: Grid) -> None:
        super().__init__(grid)
        self.running: dict[str, Any] = {}  # job id -> submitit LocalJob, started by this command
        self.slot_of: dict[str, int] = {}
        self.slots: list[tuple[int, ...]] = []

    def check(self) -> None:
        gpus = self.res.gpus_per_job
        if gpus:
            visible = _visible_gpus()
            if not visible:
                raise PlanError(f"resources.gpus_per_job is {gpus} but this machine shows no GPU (a CPU-only local run); "
                                "set gpus_per_job: 0 to run on the CPU, or executor: slurm")
            if gpus > len(visible):
                raise PlanError(f"resources.gpus_per_job is {gpus} but this machine shows {len(visible)} GPU(s) "
                                f"({visible}); lower gpus_per_job or use executor: slurm")
            slots = [tuple(visible[i:i + gpus]) for i in range(0, len(visible) - gpus + 1, gpus)]
            self.slots = slots[: self.res.max_parallel] if self.res.max_parallel else slots
        else:
            self.slots = [()] * (self.res.max_parallel or 1)
        self.capacity = len(self.slots)

    def submit(self, jobs: list[Job]) -> list[dict[str, Any]]:
        import submitit

        from lm_eval_iberian.runs._worker import run_job

        out = []
        for job in jobs:
            free = sorted(set(range(len(self.slots))) - set(self.slot_of.values()))
            slot = free[0]
            ex = submitit.LocalExecutor(folder=str(self.logs))
            minutes = parse_time_minutes(self.res.time) if self.res.time else 60 * 24 * 365
            params: dict[str, Any] = {"timeout_min": minutes, "gpus_per_node": len(self.slots[slot])}
            if self.slots[slot]:
                params["visible_gpus"] = self.slots[slot]
            if self.res.setup:
                params["setup"] = list(self.res.setup)
            ex.update_parameters(**params)
            handle = ex.submit(run_job, str(job.folder))
            self.running[handle.job_id] = handle
            self.slot_of[handle.job_id] = slot
            out.append({"executor": self.name, "job_id": handle.job_id, "submitted": _now(), "gpus": list(self.slots[slot]),
                        "stdout": str(handle.paths.stdout), "stderr": str(handle.paths.stderr)})
        return out

    def states(self, attempts: list[dict[str, Any]]) -> list[str]:
        states = []
        for a in attempts:
            handle = self.running.get(a["job_id"])
            if handle is not None:
                raw = handle.state
                state = {"RUNNING": "RUNNING", "FINISHED": "EXITED", "INTERRUPTED": "INTERRUPTED"}.get(raw, raw)
                if state != "RUNNING":
                    self.running.pop(a["job_id"], None)
                    self.slot_of.pop(a["job_id"], None)
            else:  # started by an earlier `grid run`: its controller process, if it still runs
                states.append(_local_pid_state(a["job_id"]))
                continue
            states.append(state)
        return states

    def stop(self) -> None:
        for handle in list(self.running.values()):
            handle.cancel()
        self.running.clear()
        self.slot_of.clear()


def _local_pid_state(job_id: str) -> str:
    try:
        cmdline = Path(f"/proc/{int(job_id)}/cmdline").read_bytes().decode(errors="replace")
    except (OSError, ValueError):
        return "GONE"
    return "RUNNING" if "submitit" in cmdline else "GONE"


EXECUTORS: dict[str, type[_Executor]] = {"slurm": _SlurmExecutor, "local": _LocalExecutor}


def resolve_executor(grid: Grid) -> _Executor:
    name = grid.plan.resources.executor
    if name == "auto":
        name = "slurm" if shutil.which("sbatch") else "local"
    executor = EXECUTORS[name](grid)
    executor.check()
    return executor


def _attempt_states(grid: Grid, attempts: list[dict[str, Any]], executors: dict[str, _Executor]) -> list[str]:
    """States of attempts made by any executor (an earlier run may have used another one than this run's)."""
    out = ["UNKNOWN"] * len(attempts)
    by_executor: dict[str, list[int]] = {}
    for i, a in enumerate(attempts):
        by_executor.setdefault(a["executor"], []).append(i)
    for name, idx in by_executor.items():
        if name == "slurm" and shutil.which("squeue") is None:
            states = ["GONE"] * len(idx)  # no Slurm here: nothing of it can still run for us to wait on
        else:
            ex = executors.setdefault(name, EXECUTORS[name](grid))
            states = ex.states([attempts[i] for i in idx])
        for i, st in zip(idx, states, strict=True):
            out[i] = st
    return out


# --- grid.json and the output folder -------------------------------------------------------------------------------

@dataclass
class _State:
    path: Path
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, out: Path) -> "_State":
        path = out / STATE_FILE
        if not path.is_file():
            return cls(path, {"format": STATE_FORMAT, "jobs": {}})
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise GridError(f"{path} is damaged ({exc}); it records the submitted jobs: restore it, or move it away "
                            "(jobs still queued would then be submitted again)") from None
        if not isinstance(data, dict) or data.get("format") != STATE_FORMAT or not isinstance(data.get("jobs"), dict):
            raise GridError(f"{path} is not a grid state file this version reads (format {STATE_FORMAT})")
        return cls(path, data)

    def attempts(self, job: Job) -> list[dict[str, Any]]:
        return self.data["jobs"].get(job.key, {}).get("attempts", [])

    def add(self, job: Job, attempt: dict[str, Any]) -> None:
        entry = self.data["jobs"].setdefault(job.key, {"name": job.name, "folder": str(job.folder), "attempts": []})
        entry["attempts"].append(attempt)

    def save(self) -> None:
        from lm_eval_iberian._paths import atomic_write_text

        atomic_write_text(self.path, json.dumps(self.data, indent=1, sort_keys=True))


def _check_output(grid: Grid) -> None:
    from lm_eval_iberian._errors import UsageError
    from lm_eval_iberian._paths import check_output, check_writable

    try:
        check_output(grid.output, {**grid.local_inputs, "the plan file": grid.plan_file}, "output")
        check_writable(grid.output, "output")
    except UsageError as exc:
        raise PlanError(str(exc)) from None
    out = grid.output
    if out.exists() and not out.is_dir():
        raise PlanError(f"output {out} is a file; choose a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / STATE_FILE).is_file():
        raise PlanError(f"output {out} holds files the grid did not write (no {STATE_FILE}); choose a new or empty folder")


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / LOCK_FILE, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "?"
            raise GridError(f"another `grid run` works on {out} (pid {holder}); wait for it to end (or stop it), then "
                            "run again") from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# --- run and status ------------------------------------------------------------------------------------------------

@dataclass
class JobStatus:
    job: Job
    state: str  # done | running | pending | failed | todo
    detail: str = ""  # scheduler state of a failed job, its scheduler id
    log: str | None = None
    attempts: int = 0


def _classify(job: Job, done: bool, attempts: list[dict[str, Any]], state: str | None) -> JobStatus:
    if done:
        return JobStatus(job, "done", attempts=len(attempts))
    if not attempts:
        return JobStatus(job, "todo")
    last = attempts[-1]
    ident = f"{last['executor']} {last['job_id']}"
    if state in ("RUNNING", "COMPLETING", "CONFIGURING"):
        return JobStatus(job, "running", ident, last.get("stderr"), len(attempts))
    if state in ACTIVE:
        return JobStatus(job, "pending", ident, last.get("stderr"), len(attempts))
    final = state if state not in (None, "GONE") else last.get("state", "ended")
    reason = _last_line(last.get("stderr"))
    return JobStatus(job, "failed", f"{final}, {ident}" + (f": {reason}" if reason else ""), last.get("stderr"), len(attempts))


def grid_status(grid: Grid) -> list[JobStatus]:
    """Each job's state from its results on disk and, for jobs without results, the scheduler."""
    state = _State.load(grid.output)
    done = {j.key for j in grid.jobs if job_done(j)}  # reads every job's results: once
    pending = [j for j in grid.jobs if j.key not in done and state.attempts(j)]
    lasts = [state.attempts(j)[-1] for j in pending]
    live = dict(zip([j.key for j in pending], _attempt_states(grid, lasts, {}), strict=True))
    return [_classify(j, j.key in done, state.attempts(j), live.get(j.key)) for j in grid.jobs]


@dataclass
class RunSummary:
    statuses: list[JobStatus]
    submitted: int
    executor: str

    @property
    def ok(self) -> bool:
        return all(s.state == "done" for s in self.statuses)


def run_grid(grid: Grid, *, wait: bool = True, poll_s: float = 10.0, say: Callable[[str], None] = print) -> RunSummary:
    """Submit every job that is neither done nor still queued/running, wait (retrying failures), report."""
    from lm_eval_iberian.runs._worker import write_job_folder

    with named_plan(grid.plan_file):
        executor = resolve_executor(grid)
        if not wait and executor.name == "local":
            raise PlanError("--no-wait needs the Slurm executor: local jobs run under this command; drop --no-wait")
        _check_output(grid)
    for line in grid.checks:
        say(f"grid: {line}")
    executors: dict[str, _Executor] = {executor.name: executor}
    with _locked(grid.output):
        from lm_eval_iberian._paths import atomic_write_text

        state = _State.load(grid.output)
        state.data["plan"] = str(grid.plan_file)
        atomic_write_text(grid.output / "plan.yml", grid.plan_file.read_text(encoding="utf-8"))
        done = {j.key for j in grid.jobs if job_done(j)}
        if done:
            say(f"grid: {len(done)} of {len(grid.jobs)} jobs already done (valid results on disk), skipped")
        undone = [j for j in grid.jobs if j.key not in done and state.attempts(j)]
        lasts = [state.attempts(j)[-1] for j in undone]
        active: dict[str, dict[str, Any]] = {}
        for job, last, st in zip(undone, lasts, _attempt_states(grid, lasts, executors), strict=True):
            if st in ACTIVE:
                active[job.key] = last
        if active:
            say(f"grid: {len(active)} job(s) of an earlier `grid run` still queued or running: waiting for them, "
                "not submitting them again")
        queue = [j for j in grid.jobs if j.key not in done and j.key not in active]
        tries = {j.key: 0 for j in grid.jobs}
        submitted = 0
        retries = grid.plan.resources.retries

        def submit(jobs: list[Job]) -> None:
            nonlocal submitted
            for job in jobs:
                write_job_folder(job, grid.plan_file)
            attempts = executor.submit(jobs)
            for job, attempt in zip(jobs, attempts, strict=True):
                state.add(job, attempt)
                active[job.key] = attempt
                tries[job.key] += 1
            submitted += len(jobs)
            state.save()
            ids = sorted({a["job_id"].split("_")[0] for a in attempts})
            say(f"grid: submitted {len(jobs)} job(s) ({executor.name} {', '.join(ids)}); logs under {grid.output / 'logs'}")

        try:
            while queue or active:
                room = len(queue) if executor.capacity is None else \
                    executor.capacity - sum(1 for a in active.values() if a["executor"] == executor.name)
                if queue and room > 0:
                    batch, queue = queue[:room], queue[room:]
                    submit(batch)
                if not wait:
                    break
                keys = list(active)
                for key, st in zip(keys, _attempt_states(grid, [active[k] for k in keys], executors),
                                   strict=True):
                    if st in ACTIVE:
                        continue
                    job, attempt = grid.job(key), active.pop(key)
                    attempt["state"], attempt["ended"] = st, _now()
                    if job_done(job):
                        say(f"grid: {job.name} done")
                    elif st == "CANCELLED":
                        say(f"grid: {job.name} was cancelled ({attempt['job_id']}); not retried. Log: {attempt['stderr']}")
                    elif tries[key] <= retries:
                        say(f"grid: {job.name} failed ({st}); retrying ({tries[key]} of {retries} retries). "
                            f"Log: {attempt['stderr']}")
                        queue.append(job)
                    else:
                        say(f"grid: {job.name} failed ({st}): {_last_line(attempt['stderr'])}. Log: {attempt['stderr']}")
                    state.save()
                if queue or active:
                    time.sleep(poll_s)
        except KeyboardInterrupt:
            executor.stop()
            state.save()
            if executor.name == "slurm":
                say(f"grid: interrupted; the submitted jobs keep running on Slurm: `lm-eval-iberian grid status "
                    f"{grid.plan_file}` shows them, `lm-eval-iberian grid run {grid.plan_file}` waits for them and "
                    "finishes what is missing")
            else:
                say(f"grid: interrupted; the local jobs were stopped. `lm-eval-iberian grid run {grid.plan_file}` "
                    "runs what is missing")
            raise
        state.save()
        with contextlib.suppress(OSError):  # submitit makes its folder pattern itself (logs/%j); it stays empty
            (grid.output / "logs" / "%j").rmdir()
    return RunSummary(grid_status(grid), submitted, executor.name)


def format_status(statuses: list[JobStatus]) -> str:
    """One line per job: state, name, detail (scheduler state, id and last log line of a failed job), log."""
    from tabulate import tabulate

    rows = [[s.state, s.job.name, s.attempts or "", s.detail, s.log if s.state != "done" and s.log else ""] for s in statuses]
    counts = {}
    for s in statuses:
        counts[s.state] = counts.get(s.state, 0) + 1
    total = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    return tabulate(rows, headers=["state", "job", "attempts", "detail", "log"], tablefmt="plain") + f"\n\n{total}"

