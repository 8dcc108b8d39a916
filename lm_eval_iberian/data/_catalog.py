"""Which dataset/config/split files each ``iberian_*`` task reads.

Derived from the task YAMLs themselves (their ``dataset_kwargs``), so the YAMLs
stay the single source of truth for ``data pull``, ``data verify`` and the
README task table.
"""

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from lm_eval_iberian import tasks_path
from lm_eval_iberian._errors import UsageError

SOURCE_KEY = "iberian_source"
CONFIGS_KEY = "iberian_configs"
SPLITS_KEY = "iberian_splits"


@dataclass(frozen=True, order=True)
class SplitRef:
    """One file of the mirror: a split of a config of a hub dataset."""

    dataset: str
    config: str
    split: str

    def __str__(self) -> str:
        return f"{self.dataset} [{self.config}] {self.split}"


@dataclass(frozen=True)
class TaskInfo:
    name: str
    yaml_path: Path
    config: dict[str, Any]

    @property
    def files(self) -> tuple[SplitRef, ...]:
        kw = self.config.get("dataset_kwargs") or {}
        return tuple(
            SplitRef(kw[SOURCE_KEY], cfg, split) for cfg in kw.get(CONFIGS_KEY, []) for split in kw.get(SPLITS_KEY, [])
        )


def _load_yaml(path: Path) -> dict[str, Any]:
    # lm-eval's own loader resolves `include:` exactly as the harness does;
    # resolve_func=False leaves `!function` references unimported.
    from lm_eval.tasks._yaml_loader import load_yaml

    return load_yaml(path, resolve_func=False, recursive=True)


@cache
def _scan() -> tuple[dict[str, TaskInfo], dict[str, TaskInfo]]:
    leaves: dict[str, TaskInfo] = {}
    groups: dict[str, TaskInfo] = {}
    for path in sorted(Path(tasks_path()).rglob("*.yaml")):
        cfg = _load_yaml(path)
        if "group" in cfg and "task" in cfg and isinstance(cfg["task"], list):
            groups[cfg["group"]] = TaskInfo(cfg["group"], path, cfg)
        elif "task" in cfg:
            leaves[cfg["task"]] = TaskInfo(cfg["task"], path, cfg)
    return leaves, groups


def leaf_tasks() -> dict[str, TaskInfo]:
    return dict(_scan()[0])


def groups() -> dict[str, TaskInfo]:
    return dict(_scan()[1])


def expand(names: list[str] | None) -> list[str]:
    """Leaf task names under the given task/group names (all leaves if None)."""
    leaves, grps = _scan()
    if not names:
        return sorted(leaves)
    out: list[str] = []

    def visit(name: str) -> None:
        if name in leaves:
            if name not in out:
                out.append(name)
        elif name in grps:
            for member in grps[name].config["task"]:
                visit(member if isinstance(member, str) else member["task"])
        else:
            raise UsageError(
                f"unknown task or group {name!r}; run `lm-eval-iberian tasks` to list the iberian_* names"
            )

    for name in names:
        visit(name)
    return out


def required_files(task_names: list[str] | None = None) -> list[SplitRef]:
    """Every mirror file the given tasks (or all tasks) read, sorted, without duplicates."""
    leaves = leaf_tasks()
    return sorted({ref for name in expand(task_names) for ref in leaves[name].files})
