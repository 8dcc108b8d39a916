"""The trainer's output folder: what it owns, when it may start, resume or must refuse, and checkpoint checks.

The trainer marks a folder as its own with ``cpt_run.json`` (written before anything else, updated to
``finished`` after ``final/``). It removes or replaces only the names it writes (:data:`OWNED`) and only in a
folder carrying that mark, never a path that is an input of the run (model, tokenizer, corpora, cache), even
with ``--overwrite``. Every check here reads only; :func:`plan_run` runs on every rank before the model,
tokenizer or corpora are touched, so a refused run costs nothing and changes nothing.
"""

import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lm_eval_iberian.cpt.config import ConfigError, CPTConfig

from lm_eval_iberian._paths import atomic_write_text

__all__ = [
    "LOSS_LOG",
    "OWNED",
    "RUN_FILE",
    "STATE_FILE",
    "OutputDirError",
    "RunPlan",
    "checkpoints",
    "claim",
    "ensure_writable",
    "mark_finished",
    "plan_run",
    "read_losses",
    "validate_checkpoint",
    "write_checkpoint_state",
]

RUN_FILE = "cpt_run.json"
STATE_FILE = "trainer_state.json"
LOSS_LOG = "losses.jsonl"
# Keys that change what is trained; the others (logging, checkpoint period, attention kernel, micro-batch
# split, cache folder) may change between a run and its resume.
_DEFINING = ("model", "tokenizer", "data.sources", "optim", "seq_len", "global_batch_size", "max_steps",
             "max_tokens", "dtype", "seed")
_ZIP_FULL_CHECK_BYTES = 64 << 20  # CRC-check torch.save archives up to this size; larger: central directory only


class OutputDirError(ConfigError):
    """A refusal that ``--overwrite`` resolves (the CLI then prints the command with it)."""

    overwrite_fixes = True


@dataclass
class RunPlan:
    output_dir: Path
    fingerprint: dict[str, Any]
    finished: bool = False  # a finished run with this config: nothing to do
    resume_from: Path | None = None
    start_step: int = 0
    remove: list[Path] = field(default_factory=list)  # the trainer's own files of an earlier run


def _flatten(node: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            _flatten(value, f"{prefix}.{key}" if prefix else key, out)
    elif isinstance(node, list) and node and all(isinstance(x, dict) for x in node):
        out[f"{prefix}.count"] = len(node)
        for i, value in enumerate(node):
            _flatten(value, f"{prefix}.{i}", out)
    else:
        out[prefix] = node


def _fingerprint(config: CPTConfig) -> dict[str, Any]:
    """The keys that define the training, dotted (``optim.lr``, ``data.sources.0.ratio``), as JSON values."""
    dumped = config.model_dump(mode="json")
    out: dict[str, Any] = {}
    for key in _DEFINING:
        node: Any = dumped
        for part in key.split("."):
            node = node[part]
        _flatten(node, key, out)
    return out


def _differences(old: dict[str, Any], new: dict[str, Any]) -> str:
    keys = sorted(set(old) | set(new))
    return "; ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys if old.get(k) != new.get(k))


def checkpoints(output_dir: Path) -> list[Path]:
    """Complete checkpoints (``checkpoint-N``; ``checkpoint-N.tmp`` is one being written), oldest first."""
    found = [p for p in output_dir.glob("checkpoint-*") if p.is_dir() and p.name.split("-", 1)[1].isdigit()]
    return sorted(found, key=lambda p: int(p.name.split("-", 1)[1]))


def _owned(output_dir: Path) -> list[Path]:
    if not output_dir.is_dir():
        return []
    return sorted({p for pattern in OWNED for p in output_dir.glob(pattern) if p.name != RUN_FILE})


def _input_paths(config: CPTConfig) -> dict[str, Path]:
    """The local paths this run reads; none of them may lie where the trainer writes."""
    from lm_eval_iberian.cpt.data import _local_files

    paths = {"model": Path(config.model), "data.cache_dir": Path(config.data.cache_dir)}
    if config.tokenizer:
        paths["tokenizer"] = Path(config.tokenizer)
    for i, source in enumerate(config.data.sources):
        if source.path is not None:
            for j, f in enumerate(_local_files(source)):  # also refuses a path that matches no file, early
                paths[f"data.sources.{i}.path ({f.name})" if j else f"data.sources.{i}.path"] = f
    return {k: p.resolve() for k, p in paths.items() if p.exists() or k == "data.cache_dir"}


_WHAT_HAPPENS = {
    "checkpoint-*": "a checkpoint folder of the trainer, deleted when newer checkpoints replace it",
    "final": "where the trainer writes its final model, replacing what is there",
    "final.tmp": "the trainer's scratch folder for the final model",
    LOSS_LOG: "the trainer's loss log, rewritten on resume",
    "tensorboard": "the trainer's TensorBoard folder",
    RUN_FILE: "the trainer's run file",
}
# Everything the trainer writes into output_dir (and so all it may ever delete or replace there).
OWNED = tuple(_WHAT_HAPPENS)


def _check_inputs_outside(config: CPTConfig, output_dir: Path) -> None:
    out = output_dir.resolve()
    for key, path in _input_paths(config).items():
        for pattern, what in _WHAT_HAPPENS.items():
            for owned in [out / pattern] if "*" not in pattern else out.glob(pattern):
                if path == owned or owned in path.parents:
                    where = "is" if path == owned else "lies inside"
                    raise ConfigError(
                        f"{key}={path} {where} {owned}, {what}; an input must stay out of the trainer's outputs, "
                        f"even with --overwrite: choose another output_dir, e.g. output_dir={out}-2"
                    )


def _read_marker(output_dir: Path) -> dict[str, Any] | None:
    path = output_dir / RUN_FILE
    if not path.is_file():
        return None
    try:
        marker = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(marker, dict) or marker.get("tool") != "lm_eval_iberian.cpt":
            raise ValueError("not a run file of lm_eval_iberian.cpt")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path} is damaged ({exc}); it marks which files in {output_dir} the trainer wrote. "
            f"Choose another output_dir, or remove {output_dir} yourself if you no longer need it"
        ) from None
    return marker


def plan_run(config: CPTConfig, overwrite: bool = False) -> RunPlan:
    """Decide, reading only, whether this run starts fresh, resumes, is already finished, or is refused."""
    out = Path(config.output_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output_dir={out} is a file, not a folder; choose a folder for the run's outputs")
    fingerprint = _fingerprint(config)
    plan = RunPlan(out, fingerprint)
    _check_inputs_outside(config, out)
    marker = _read_marker(out)
    owned = _owned(out)
    if marker is None:
        if owned:
            names = ", ".join(p.name + ("/" if p.is_dir() else "") for p in owned[:6])
            raise ConfigError(
                f"output_dir={out} holds {names}, which this trainer did not write (there is no {RUN_FILE}); it "
                f"never deletes files it did not write, with or without --overwrite. Choose another output_dir "
                f"or move them away"
            )
        return plan
    same = marker.get("config") == fingerprint
    what = "" if same else f" with a different config ({_differences(marker.get('config') or {}, fingerprint)})"
    final = out / "final"
    if marker.get("status") == "finished" and final.is_dir():
        if same and config.resume and not overwrite:
            plan.finished = True
            return plan
        if not overwrite:
            reason = what or " and resume=false asks to train again"
            raise OutputDirError(
                f"output_dir={out} holds a finished run (final model {final}){reason}; choose another "
                f"output_dir, or re-run with --overwrite to delete its checkpoints, {LOSS_LOG}, tensorboard/ "
                f"and final/ and train from scratch"
            )
        plan.remove = owned
        return plan
    found = checkpoints(out)
    if found and not overwrite:
        if not config.resume:
            raise OutputDirError(
                f"resume=false asks for a fresh run but output_dir={out} holds checkpoints of an unfinished run "
                f"({found[-1].name}); set resume=true to continue it, or re-run with --overwrite to delete them"
            )
        if not same:
            raise OutputDirError(
                f"output_dir={out} holds checkpoints of an unfinished run started{what}; resume with the config "
                f"it was started with, or re-run with --overwrite to delete them and train from scratch"
            )
        plan.resume_from = found[-1]
        plan.start_step = validate_checkpoint(found[-1], found[-2] if len(found) > 1 else None)
        return plan
    # A fresh start over the trainer's own leftovers (logs of a run killed before its first checkpoint, or an
    # earlier run the user asked to overwrite).
    plan.remove = owned
    return plan


def ensure_writable(*folders: Path) -> None:
    """Create the folders and write a probe file in each: an unwritable place fails now, not after the model load.

    On failure the folders this call created (still empty) are removed again: a refused run leaves nothing.
    """
    created: list[Path] = []
    try:
        for folder in folders:
            missing = [p for p in (folder, *folder.parents) if not p.exists()]
            try:
                folder.mkdir(parents=True, exist_ok=True)
                fd, probe = tempfile.mkstemp(dir=folder, prefix=".cpt-write-test-")
                os.close(fd)
                os.unlink(probe)
            except OSError as exc:
                raise ConfigError(f"cannot write to {folder} ({exc.strerror or exc}); choose a folder you can write to") from None
            finally:
                created += [p for p in reversed(missing) if p.exists()]
    except ConfigError:
        for folder in reversed(created):
            try:
                folder.rmdir()  # only if still empty
            except OSError:
                pass
        raise


def claim(plan: RunPlan, launch: dict[str, Any]) -> None:
    """Main process: remove the trainer's own leftovers the plan names, then mark the folder as a running run."""
    for old in plan.remove:
        if old.is_dir():
            shutil.rmtree(old)
        elif old.exists():
            old.unlink()
    marker = _read_marker(plan.output_dir) if plan.resume_from else None
    atomic_write_text(plan.output_dir / RUN_FILE, json.dumps({
        "tool": "lm_eval_iberian.cpt",
        "status": "running",
        "config": plan.fingerprint,
        "launch": launch,
        "resumed_from": [*(marker or {}).get("resumed_from", []), plan.resume_from.name] if plan.resume_from else [],
    }, indent=1))


def mark_finished(output_dir: Path, step: int) -> None:
    marker = _read_marker(output_dir) or {}
    atomic_write_text(output_dir / RUN_FILE, json.dumps({**marker, "status": "finished", "step": step, "final": "final"}, indent=1))


def write_checkpoint_state(folder: Path, step: int) -> None:
    """``trainer_state.json``: the step and every file's size, so a damaged or incomplete copy is recognised."""
    files = {str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*")) if p.is_file()}
    (folder / STATE_FILE).write_text(json.dumps({"step": step, "files": files}), encoding="utf-8")


def _file_problem(path: Path) -> str | None:
    """What is wrong with one checkpoint file, judged from its format (None: looks whole)."""
    name = path.name
    try:
        if name.endswith(".json"):
            json.loads(path.read_text(encoding="utf-8"))
        elif name.endswith(".safetensors"):
            size = path.stat().st_size
            with path.open("rb") as fh:
                head = fh.read(8)
                if len(head) < 8:
                    return f"truncated ({size} bytes, shorter than a safetensors header)"
                n = int.from_bytes(head, "little")
                if n > size - 8:
                    return f"truncated ({size} bytes; its header alone needs {n + 8})"
                header = json.loads(fh.read(n))
            end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
            if size != 8 + n + end:
                kind = "truncated" if size < 8 + n + end else "longer than its header says"
                return f"{kind} ({size} bytes, its header describes {8 + n + end})"
        elif name.endswith((".bin", ".pkl", ".pt")):
            with zipfile.ZipFile(path) as archive:  # torch.save writes a zip archive
                if path.stat().st_size <= _ZIP_FULL_CHECK_BYTES and archive.testzip() is not None:
                    return "corrupted (a member fails its CRC check)"
        elif name == ".metadata":
            from torch.distributed.checkpoint import FileSystemReader

            FileSystemReader(str(path.parent)).read_metadata()
    except (ValueError, UnicodeDecodeError) as exc:
        return f"not valid JSON ({exc})"
    except zipfile.BadZipFile:
        return "not a complete torch.save archive (truncated or overwritten)"
    except Exception as exc:  # noqa: BLE001 - any failure to read the DCP metadata means the file is unusable
        return f"unreadable ({type(exc).__name__}: {exc})"
    return None


def validate_checkpoint(folder: Path, previous: Path | None) -> int:
    """Check a checkpoint before loading it; returns its step. One error names the file, the problem and the fix."""
    fix = (f"delete {folder} to resume from the previous checkpoint {previous.name}" if previous is not None else
           f"delete {folder} to start again from step 0 (there is no earlier checkpoint)")

    def damaged(file: str, problem: str) -> ConfigError:
        return ConfigError(f"checkpoint {folder} is damaged: {file} is {problem}; {fix}")

    state_path = folder / STATE_FILE
    if not state_path.is_file():
        raise damaged(STATE_FILE, "missing")
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise damaged(STATE_FILE, f"not valid JSON ({exc})") from None
    step = state.get("step") if isinstance(state, dict) else None
    if not isinstance(step, int) or isinstance(step, bool) or step < 1:
        raise damaged(STATE_FILE, f"without a positive integer 'step' (got {step!r})")
    manifest = state.get("files")
    if isinstance(manifest, dict):
        for rel, size in manifest.items():
            path = folder / rel
            if not path.is_file():
                raise damaged(rel, "missing")
            actual = path.stat().st_size
            if actual != size:
                kind = "truncated" if actual < size else "larger than written"
                raise damaged(rel, f"{kind}: {actual} bytes, the checkpoint wrote {size}")
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != STATE_FILE:
            problem = _file_problem(path)
            if problem:
                raise damaged(str(path.relative_to(folder)), problem)
    return step


def read_losses(output_dir: Path, up_to: int) -> list[str]:
    """The log lines of steps up to ``up_to`` (a resumed run re-logs the steps after its checkpoint).

    A run killed while writing leaves a partial last line: it is dropped. A bad line elsewhere is an error.
    """
    path = output_dir / LOSS_LOG
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    kept = []
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
            step = record["step"]
        except (ValueError, KeyError, TypeError):
            if number == len(lines):
                break
            raise ConfigError(f"{path}:{number} is not a log record ({line[:60]!r}); fix or delete that line") from None
        if step <= up_to:
            kept.append(line)
    return kept
