"""The grid plan: one YAML file, validated by pydantic, every error naming the key, the value and the choices.

Paths in the plan are relative to the plan file; ``paper:FAMILY/*.yml`` names the paper's recipes shipped with the
package (``lm_eval_iberian.recipes_path()``). :func:`load_plan` reads and checks the file itself (keys, types,
ranges, task names, recipe globs, local model folders); what needs the recipes' input models or the scheduler is
checked when the plan is expanded into jobs (``_jobs.expand_plan``).
"""

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lm_eval_iberian._errors import UsageError, UserError
from lm_eval_iberian._parsing import SEED_RANGE, StrictBool

__all__ = [
    "BACKENDS",
    "GridPlan",
    "LmEvalOptions",
    "ModelEntry",
    "PAPER_PREFIX",
    "PlanError",
    "Resources",
    "SweepSpec",
    "TaskEntry",
    "load_plan",
    "parse_time_minutes",
    "task_name",
]

PAPER_PREFIX = "paper:"
# Recipe entries run on a merged backend; baselines on the plain backend of the same engine.
BACKENDS = ("merged", "merged_vllm", "hf", "vllm")
RECIPE_BACKENDS = ("merged", "merged_vllm")
MODEL_BACKENDS = ("hf", "vllm")
BASELINE_BACKEND = {"merged": "hf", "merged_vllm": "vllm"}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


class PlanError(UserError, ValueError):
    """A grid plan that cannot run; the message names the plan file, the key, the value and what is allowed."""


Scalar = str | int | float | bool
Seed = Annotated[int, Field(strict=True, ge=SEED_RANGE[0], le=SEED_RANGE[1])]


def _listed_once(noun: str) -> AfterValidator:
    """A list validator: every item once (a second copy would run the same job twice)."""
    def check(values: list) -> list:
        if len(set(values)) != len(values):
            raise ValueError(f"a {noun} is listed twice; list each {noun} once")
        return values
    return AfterValidator(check)


Seeds = Annotated[list[Seed], Field(min_length=1), _listed_once("seed")]


def parse_time_minutes(text: str) -> int:
    """A Slurm time limit (``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH``, ``D-HH:MM``, ``D-HH:MM:SS``) in whole minutes."""
    value = str(text).strip()
    head, dash, value = value.rpartition("-")
    parts = value.split(":")
    if (dash and not head.isdigit()) or not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"{text!r} is not a Slurm time; write e.g. 04:00:00, 90 (minutes) or 1-12:00:00")
    days, nums = int(head or 0), list(map(int, parts))
    if dash:  # D-HH[:MM[:SS]]
        hours, minutes, seconds = (nums + [0, 0])[:3]
    else:  # MM, MM:SS, HH:MM:SS
        hours, minutes, seconds = {1: (0, nums[0], 0), 2: (0, *nums), 3: tuple(nums)}[len(nums)]
    total = days * 1440 + hours * 60 + minutes + (1 if seconds else 0)
    if total < 1:
        raise ValueError(f"{text!r} is shorter than a minute; give a time limit of at least 1 minute")
    return total


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SweepSpec(_Strict):
    """A weight sweep of one recipe, as ``lm-eval-iberian sweep``: every point in one job (inputs read once)."""

    param: str = Field(description="parameter to sweep: weight[:MODEL], density[:MODEL], t, ...")
    values: Annotated[list[float], _listed_once("value")] = Field(min_length=1, description="finite values, each once")


class TaskEntry(_Strict):
    """A task or group with seeds of its own (e.g. IFEval over 3 seeds while the benchmarks run once)."""

    task: str
    seeds: Seeds


TaskItem = str | TaskEntry


def task_name(item: TaskItem) -> str:
    return item if isinstance(item, str) else item.task


def _distinct_tasks(items: list[TaskItem]) -> list[TaskItem]:
    names = [task_name(t) for t in items]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"{', '.join(twice)} is listed twice; list each task once")
    return items


Tasks = Annotated[list[TaskItem], Field(min_length=1), AfterValidator(_distinct_tasks)]


class ModelEntry(_Strict):
    """One line of ``models:``: a recipe (file or glob, optionally swept) or a plain model (a baseline)."""

    recipe: str | None = Field(None, description="mergekit YAML file or glob, relative to the plan; paper:FAMILY/*.yml")
    model: str | None = Field(None, description="hub id (ORG/NAME[@REVISION]) or local model folder: a baseline")
    sweep: SweepSpec | None = None
    name: str | None = Field(None, description="name of the entry's jobs (default: from the recipe file or model)")
    backend: Literal["merged", "merged_vllm", "hf", "vllm"] | None = None
    apply_chat_template: StrictBool | None = None
    fewshot_as_multiturn: StrictBool | None = None
    model_args: dict[str, Scalar] = Field(default_factory=dict)
    tasks: Tasks | None = None
    merge_seed: Seed | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> "ModelEntry":
        if (self.recipe is None) == (self.model is None):
            raise ValueError("give exactly one of recipe: (a mergekit YAML or glob) or model: (a hub id or folder)")
        if self.model is not None:
            if self.sweep is not None:
                raise ValueError("sweep: needs a recipe:, not a model:")
            if self.merge_seed is not None:
                raise ValueError("merge_seed: applies to recipe: entries only")
            if self.backend is not None and self.backend not in MODEL_BACKENDS:
                raise ValueError(f"backend {self.backend!r} runs recipes; a model: entry runs on one of {', '.join(MODEL_BACKENDS)}")
        elif self.backend is not None and self.backend not in RECIPE_BACKENDS:
            raise ValueError(f"backend {self.backend!r} runs plain models; a recipe: entry runs on one of {', '.join(RECIPE_BACKENDS)}")
        if self.name is not None and not _NAME_RE.match(self.name):
            raise ValueError(f"name {self.name!r}: use letters, digits and . _ + - (it names folders)")
        return self


class LmEvalOptions(_Strict):
    """lm-eval's evaluation options, as its CLI flags of the same names. Per-sample logs are always written."""

    apply_chat_template: StrictBool = False
    fewshot_as_multiturn: StrictBool = False
    batch_size: int | str = "auto"
    limit: float | None = None
    num_fewshot: int | None = Field(None, ge=0)
    gen_kwargs: dict[str, Scalar] | None = None
    bootstrap_iters: int = Field(100000, ge=0)
    log_samples: Literal[True] = True

    @field_validator("log_samples", mode="before")
    @classmethod
    def _always(cls, value: Any) -> Any:
        if value is not True:
            raise ValueError("per-sample logs are always written by the grid (paired comparisons read them); "
                             "remove log_samples")
        return value

    @field_validator("batch_size")
    @classmethod
    def _batch(cls, value: int | str) -> int | str:
        if isinstance(value, bool) or (isinstance(value, int) and value < 1):
            raise ValueError("a batch size is an integer >= 1, 'auto' or 'auto:N'")
        if isinstance(value, str) and not re.fullmatch(r"auto(:[1-9][0-9]*)?|[1-9][0-9]*", value):
            raise ValueError("a batch size is an integer >= 1, 'auto' or 'auto:N'")
        return int(value) if isinstance(value, str) and value.isdigit() else value

    @field_validator("limit")
    @classmethod
    def _limit(cls, value: float | None) -> float | None:
        if value is None:
            return None
        if 0 < value < 1:
            return value
        if value >= 1 and float(value).is_integer():
            return int(value)
        raise ValueError("limit is a document count (an integer >= 1) or a fraction in (0, 1)")

    @model_validator(mode="after")
    def _multiturn(self) -> "LmEvalOptions":
        if self.fewshot_as_multiturn and not self.apply_chat_template:
            raise ValueError("fewshot_as_multiturn: true needs apply_chat_template: true (as lm-eval)")
        return self


class Resources(_Strict):
    """Where and with what the jobs run. Options left out are the cluster's defaults, except the time limit."""

    executor: Literal["auto", "slurm", "local"] = "auto"
    gpus_per_job: int = Field(1, ge=0)
    cpus_per_job: int | None = Field(None, ge=1)
    mem_gb: float | None = Field(None, gt=0)
    time: str | None = None
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    slurm_options: dict[str, Scalar] = Field(default_factory=dict)
    setup: list[str] = Field(default_factory=list)
    max_parallel: int | None = Field(None, ge=1)
    retries: int = Field(1, ge=0)

    @field_validator("time")
    @classmethod
    def _time(cls, value: str | None) -> str | None:
        if value is not None:
            parse_time_minutes(value)
        return value

    @field_validator("slurm_options")
    @classmethod
    def _own_keys(cls, value: dict[str, Scalar]) -> dict[str, Scalar]:
        owned = {"array", "output", "error", "job-name", "partition", "time", "account", "qos", "gpus-per-node",
                 "cpus-per-task", "mem", "wrap"}
        clash = sorted(k for k in value if k.removeprefix("--").replace("_", "-") in owned)
        if clash:
            raise ValueError(f"{', '.join(clash)} is set by the grid (or by its own resources key: partition, time, "
                             "account, qos, gpus_per_job, cpus_per_job, mem_gb); remove it from slurm_options")
        return value


class GridPlan(_Strict):
    """The whole plan. ``output`` and the recipe globs are relative to the plan file."""

    output: str
    models: list[ModelEntry] = Field(min_length=1)
    tasks: Tasks
    seeds: Seeds = Field(default_factory=lambda: [0])
    backend: Literal["merged", "merged_vllm"] = "merged"
    model_args: dict[str, Scalar] = Field(default_factory=dict)
    lm_eval: LmEvalOptions = Field(default_factory=LmEvalOptions)
    resources: Resources = Field(default_factory=Resources)


# --- errors --------------------------------------------------------------------------------------------------------

def _where(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not str(part).startswith(("function-", "literal[", "union[", "int", "float", "str", "bool", "dict[",
                                       "list[", "lax-", "json-")):
            out += ("." if out else "") + str(part)
    return out or "plan"


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The pydantic model a location points into (for 'unknown key' errors: which keys are allowed there)."""
    model: type[BaseModel] | None = GridPlan
    for part in loc[:-1]:
        if model is None or isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        ann = field.annotation
        inner = [a for a in getattr(ann, "__args__", ()) or (ann,) if isinstance(a, type) and issubclass(a, BaseModel)]
        model = inner[0] if inner else None
    return model


def _explain(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        where = _where(err["loc"])
        got = err.get("input")
        if err["type"] == "extra_forbidden":
            model = _model_at(err["loc"])
            allowed = ", ".join(model.model_fields) if model else "?"
            problems.append(f"{where}: unknown key; allowed keys here: {allowed}")
            continue
        if err["type"] == "missing":
            problems.append(f"{where}: required key missing")
            continue
        msg = err["msg"].removeprefix("Value error, ")
        shown = "" if isinstance(got, dict | list) else f" (got {got!r})"
        problems.append(f"{where}: {msg}{shown}")
    return "; ".join(dict.fromkeys(problems))


def _task_error(name: str, where: str) -> str:
    from lm_eval_iberian.data import groups, leaf_tasks

    known = list(leaf_tasks()) + list(groups())
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    return f"{where}: unknown task or group {name!r}{hint} (`lm-eval-iberian tasks` lists the iberian_* names)"


def load_plan(path: str | Path) -> tuple[GridPlan, Path]:
    """Read and validate a plan file; returns the plan and the plan file's absolute path."""
    from lm_eval_iberian._paths import read_yaml_file, user_path
    from lm_eval_iberian.data import expand

    try:
        file = user_path(path, "PLAN").absolute()
    except UsageError as exc:
        raise PlanError(str(exc)) from None
    data = read_yaml_file(file, f"plan {file}", PlanError, "the plan's YAML file")
    if not isinstance(data, dict):
        raise PlanError(f"plan {file}: the top level must be a mapping (output:, models:, tasks:, ...)")
    try:
        plan = GridPlan.model_validate(data)
    except ValidationError as exc:
        raise PlanError(f"plan {file}: {_explain(exc)}") from None
    for where, names in [("tasks", plan.tasks)] + [(f"models[{i}].tasks", m.tasks) for i, m in enumerate(plan.models) if m.tasks]:
        for j, item in enumerate(names):
            name = task_name(item)
            try:
                expand([name])
            except UsageError:
                raise PlanError(f"plan {file}: {_task_error(name, f'{where}[{j}]')}") from None
    return plan, file


def recipe_files(entry: ModelEntry, index: int, base: Path) -> list[Path]:
    """The recipe files an entry names (a file, or a glob with at least one match), sorted."""
    from lm_eval_iberian import recipes_path

    pattern = entry.recipe or ""
    if pattern.startswith(PAPER_PREFIX):
        root, pattern = Path(recipes_path()), pattern[len(PAPER_PREFIX):]
    else:
        root = base
    full = Path(pattern).expanduser()
    full = full if full.is_absolute() else root / full
    if any(ch in pattern for ch in "*?["):
        anchor = Path(full.anchor)
        matches = sorted(p for p in anchor.glob(str(full.relative_to(anchor))) if p.is_file())
        if not matches:
            raise PlanError(f"models[{index}].recipe {entry.recipe!r}: the pattern matches no file (looked in {full.parent})")
        return matches
    if full.is_dir():
        raise PlanError(f"models[{index}].recipe {entry.recipe!r} is a folder; give a YAML file or a glob such as "
                        f"{entry.recipe.rstrip('/')}/*.yml")
    if not full.is_file():
        raise PlanError(f"models[{index}].recipe {entry.recipe!r}: no such file ({full})")
    return [full]
