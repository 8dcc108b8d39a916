"""Filling a mirror: ``pull`` from the hub, ``add`` from a local file."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lm_eval_iberian.data._catalog import SplitRef, required_files
from lm_eval_iberian.data._mirror import MirrorError, write_split
from lm_eval_iberian.data._schemas import SCHEMAS, PinnedFile, schema_for

Log = Callable[[str], None]


def _hub_config(config: str) -> str | None:
    return None if config == "default" else config


def _hub_revision(dataset: str) -> str | None:
    try:
        from huggingface_hub import HfApi

        return HfApi().dataset_info(dataset).sha
    except Exception:  # revision is informative; the rows are what matter
        return None


def pull(
    dest: str | Path,
    task_names: list[str] | None = None,
    datasets_filter: list[str] | None = None,
    log: Log = print,
) -> list[SplitRef]:
    """Download every split the tasks read into ``dest``; return what was written."""
    import datasets

    refs = required_files(task_names)
    if datasets_filter:
        unknown = sorted(set(datasets_filter) - set(SCHEMAS))
        if unknown:
            raise MirrorError(f"unknown dataset(s) {unknown}; the tasks read: {', '.join(sorted(SCHEMAS))}")
        refs = [r for r in refs if r.dataset in datasets_filter]
    written = []
    revisions: dict[str, str | None] = {}
    for ref in refs:
        if schema_for(ref.dataset).pinned:
            log(f"pull {ref}")
            pinned = schema_for(ref.dataset).pinned[ref.config]
            write_split(dest, ref, _download_pinned(pinned), f"{pinned.origin} sha256={pinned.sha256}")
            written.append(ref)
            continue
        if ref.dataset not in revisions:
            revisions[ref.dataset] = _hub_revision(ref.dataset)
        log(f"pull {ref}")
        try:
            ds = datasets.load_dataset(ref.dataset, _hub_config(ref.config), split=ref.split)
        except Exception as exc:
            hint = schema_for(ref.dataset).access
            raise MirrorError(f"could not download {ref}: {exc}" + ("" if hint == "public" else f" ({hint})")) from exc
        origin = f"hub:{ref.dataset}@{revisions[ref.dataset] or 'unknown-revision'}"
        write_split(dest, ref, ds.to_list(), origin)
        written.append(ref)
    return written


def _download_pinned(pinned: PinnedFile) -> list[dict[str, Any]]:
    """Fetch a pinned JSON-lines file; refuse it unless its sha256 matches."""
    import hashlib
    import urllib.request

    try:
        with urllib.request.urlopen(pinned.url, timeout=60) as response:
            payload = response.read()
    except OSError as exc:
        raise MirrorError(
            f"could not download {pinned.url}: {exc}. On a machine without internet, fetch the file elsewhere "
            "and import it with `lm-eval-iberian data add`"
        ) from exc
    digest = hashlib.sha256(payload).hexdigest()
    if digest != pinned.sha256:
        raise MirrorError(f"{pinned.url}: sha256 {digest} does not match the pinned {pinned.sha256}")
    return [json.loads(line) for line in payload.decode("utf-8").splitlines() if line.strip()]


def _decode_cells(rows: list[dict[str, Any]], dataset: str) -> list[dict[str, Any]]:
    """CSV has no lists or objects: decode JSON-looking cells where the schema wants one."""
    structured = {k for k, t in schema_for(dataset).fields.items() if t in {"list[str]", "list[object]", "choices"}}
    for row in rows:
        for key in structured & row.keys():
            if isinstance(row[key], str) and row[key][:1] in "[{":
                try:
                    row[key] = json.loads(row[key])
                except json.JSONDecodeError:
                    pass  # left as a string: the schema check reports it
    return rows


def read_local_file(path: str | Path) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        raise MirrorError(f"{path}: no such file")
    suffix = "".join(path.suffixes[-2:]) if path.suffix == ".gz" else path.suffix
    if suffix in {".jsonl", ".json", ".jsonl.gz", ".json.gz"}:
        from lm_eval_iberian.data._mirror import iter_rows

        if suffix == ".json" and path.read_text(encoding="utf-8").lstrip().startswith("["):
            return json.loads(path.read_text(encoding="utf-8"))
        if suffix.endswith(".gz"):
            import datasets

            return datasets.Dataset.from_json(str(path)).to_list()
        return list(iter_rows(path))
    if suffix == ".parquet":
        import datasets

        return datasets.Dataset.from_parquet(str(path)).to_list()
    if suffix in {".csv", ".tsv"}:
        import csv

        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t" if suffix == ".tsv" else ","))
        return [{k: _csv_scalar(v) for k, v in row.items()} for row in rows]
    raise MirrorError(f"{path}: unsupported file type {suffix!r}; use .jsonl, .json, .parquet or .csv")


def _csv_scalar(value: str) -> Any:
    try:
        return int(value)
    except ValueError:
        return value


def add(root: str | Path, dataset: str, config: str | None, split: str, file: str | Path) -> SplitRef:
    """Import a local file as one split of the mirror, after checking it against the task schema."""
    schema_for(dataset)  # unknown dataset -> clear error
    ref = SplitRef(dataset, config or "default", split)
    needed = [r for r in required_files() if r.dataset == dataset]
    if ref not in needed:
        choices = ", ".join(f"--config {r.config} --split {r.split}" for r in needed)
        raise MirrorError(f"no iberian_* task reads {ref}; the tasks read {dataset} as: {choices}")
    rows = _decode_cells(read_local_file(file), dataset)
    write_split(root, ref, rows, f"local:{Path(file).name}")
    return ref
