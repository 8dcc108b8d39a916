"""The offline mirror: a folder of JSON-lines files plus a manifest.

Layout (documented in the README)::

    DIR/iberian-mirror.json                       manifest: format, files, hashes, row counts, origin
    DIR/<org>/<dataset>/<config>/<split>.jsonl    one JSON object per row, UTF-8

``<config>`` is ``default`` for datasets without named configs. JSON lines keep
the rows readable and diffable and preserve every type the tasks use (strings,
integers, lists, nested objects).
"""

import hashlib
import json
import shlex
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lm_eval_iberian._errors import UserError
from lm_eval_iberian._jsonl import json_lines
from lm_eval_iberian._paths import atomic_open
from lm_eval_iberian.data._catalog import SplitRef, required_files
from lm_eval_iberian.data._schemas import schema_for

MANIFEST_NAME = "iberian-mirror.json"
MIRROR_FORMAT = 1
DATA_DIR_ENV = "IBERIAN_DATA_DIR"


class MirrorError(UserError, RuntimeError):
    """A mirror file is missing, corrupt or does not match the schema the tasks expect."""


def split_file(root: str | Path, ref: SplitRef) -> Path:
    return Path(root, *ref.dataset.split("/"), ref.config, f"{ref.split}.jsonl")


def _relative(ref: SplitRef) -> str:
    return f"{ref.dataset}/{ref.config}/{ref.split}.jsonl"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def iter_rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for _, row in json_lines(fh, str(path), MirrorError):
            yield row


def pull_command(root: str | Path, datasets: Iterable[str]) -> str:
    """The `data pull` command that fetches ``datasets`` into ``root`` (runs as printed; tested)."""
    return f"lm-eval-iberian data pull --dest {shlex.quote(str(root))} --datasets {','.join(sorted(set(datasets)))}"


def add_command(root: str | Path, ref: SplitRef, file: str = "FILE") -> str:
    """The `data add` command that imports a local copy of ``ref`` (``FILE``: the user's file)."""
    return (f"lm-eval-iberian data add --dir {shlex.quote(str(root))} --dataset {ref.dataset} --config {ref.config} "
            f"--split {ref.split} {file}")


def missing_message(root: str | Path, ref: SplitRef, path: Path) -> str:
    return (
        f"{DATA_DIR_ENV}={root} has no {ref} (expected file {path}). "
        f"Fetch it on a machine with internet access with `{pull_command(root, [ref.dataset])}` and copy the "
        f"folder over, or import a local copy with `{add_command(root, ref)}`."
    )


def read_split(root: str | Path, ref: SplitRef) -> list[dict[str, Any]]:
    path = split_file(root, ref)
    if not path.is_file():
        raise MirrorError(missing_message(root, ref, path))
    return list(iter_rows(path))


# --------------------------------------------------------------------------- manifest


def read_manifest(root: str | Path) -> dict[str, Any]:
    """The manifest of ``root`` (an empty one if the folder has none); a damaged manifest is an error naming it."""
    path = Path(root, MANIFEST_NAME)
    if not path.is_file():
        return {"format": MIRROR_FORMAT, "files": {}}
    fix = "restore it from the copy you made the mirror from, or re-create the mirror with `lm-eval-iberian data pull`"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise MirrorError(f"{path}: manifest is not UTF-8 text; {fix}") from None
    except json.JSONDecodeError as exc:
        raise MirrorError(f"{path}: manifest is not valid JSON ({exc.msg}, line {exc.lineno}); {fix}") from None
    if not isinstance(manifest, dict):
        raise MirrorError(f"{path}: manifest must be a JSON object with 'format' and 'files'; {fix}")
    if manifest.get("format") != MIRROR_FORMAT:
        raise MirrorError(f"{path}: mirror format {manifest.get('format')!r} is not {MIRROR_FORMAT}; {fix}")
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise MirrorError(f"{path}: manifest has no 'files' object; {fix}")
    for name, entry in files.items():
        if not (isinstance(entry, dict) and isinstance(entry.get("sha256"), str) and isinstance(entry.get("rows"), int)):
            raise MirrorError(f"{path}: manifest entry {name!r} lacks its sha256 or row count; {fix}")
    return manifest


def _manifest_text(manifest: dict[str, Any]) -> str:
    manifest["files"] = dict(sorted(manifest["files"].items()))
    return json.dumps(manifest, indent=1, ensure_ascii=False) + "\n"


def check_rows(ref: SplitRef, rows: Iterable[dict[str, Any]], origin: str) -> int:
    """Validate rows against the dataset's schema; return the count or raise naming the first bad row."""
    schema = schema_for(ref.dataset)
    n = 0
    for n, row in enumerate(rows, 1):
        problems = schema.row_problems(row)
        if problems:
            raise MirrorError(f"{origin}: row {n} does not match what the tasks expect of {ref}: {'; '.join(problems)}")
    if n == 0:
        raise MirrorError(f"{origin}: no rows for {ref}")
    return n


def write_split(root: str | Path, ref: SplitRef, rows: list[dict[str, Any]], origin: str) -> Path:
    """Validate, then write one split and its manifest entry; on any error the mirror is left as it was.

    The manifest is read and the rows checked before anything is written; both new files are prepared beside
    their targets and only then renamed into place (the split first, then the manifest).
    """
    root = Path(root)
    manifest = read_manifest(root)
    n = check_rows(ref, rows, origin)
    path = split_file(root, ref)
    data = "".join(json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in rows).encode("utf-8")
    manifest["files"][_relative(ref)] = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "rows": n,
        "origin": origin,
        "written": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    with atomic_open(root / MANIFEST_NAME) as manifest_fh:
        manifest_fh.write(_manifest_text(manifest))
        with atomic_open(path, "wb") as split_fh:
            split_fh.write(data)
    return path


# --------------------------------------------------------------------------- verify


@dataclass
class VerifyReport:
    root: Path
    ok: list[SplitRef] = field(default_factory=list)
    missing: list[SplitRef] = field(default_factory=list)
    corrupt: dict[SplitRef, str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.missing and not self.corrupt

    def lines(self) -> list[str]:
        out = [f"mirror {self.root}: {len(self.ok)} ok, {len(self.missing)} missing, {len(self.corrupt)} corrupt"]
        out += [f"  MISSING  {ref}" for ref in self.missing]
        out += [f"  CORRUPT  {ref}: {why}" for ref, why in self.corrupt.items()]
        broken = sorted({*self.missing, *self.corrupt})
        if broken:
            out.append(f"  fix, where there is internet: {pull_command(self.root, (ref.dataset for ref in broken))}")
            out.append("  fix, offline, from local copies of the files (one command per file):")
            out += [f"    {add_command(self.root, ref)}" for ref in broken]
        return out


def verify(root: str | Path, task_names: list[str] | None = None) -> VerifyReport:
    """Check every file the tasks read: present, hash as recorded, parseable, schema-conform."""
    root = Path(root)
    report = VerifyReport(root)
    manifest = read_manifest(root)
    for ref in required_files(task_names):
        path = split_file(root, ref)
        if not path.is_file():
            report.missing.append(ref)
            continue
        entry = manifest["files"].get(_relative(ref))
        if entry is None:
            report.corrupt[ref] = f"not in {MANIFEST_NAME} (import it with `data add`)"
            continue
        if sha256_file(path) != entry["sha256"]:
            report.corrupt[ref] = "content changed since it was written (sha256 mismatch)"
            continue
        try:
            n = check_rows(ref, iter_rows(path), str(path))
        except MirrorError as exc:
            report.corrupt[ref] = str(exc)
            continue
        if n != entry["rows"]:
            report.corrupt[ref] = f"{n} rows, manifest says {entry['rows']}"
            continue
        report.ok.append(ref)
    return report
