"""Filling a mirror: ``pull`` from the hub, ``add`` from a local file."""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lm_eval_iberian._jsonl import json_lines
from lm_eval_iberian._paths import check_output, check_writable
from lm_eval_iberian.data._catalog import SplitRef, required_files
from lm_eval_iberian.data._mirror import MirrorError, read_manifest, write_split
from lm_eval_iberian.data._schemas import SCHEMAS, PinnedFile, schema_for

Log = Callable[[str], None]


def _hub_config(config: str) -> str | None:
    return None if config == "default" else config


def _access_note(dataset: str) -> str:
    """`` (how to get access)`` for a gated dataset, nothing for a public one (appended to hub errors)."""
    access = schema_for(dataset).access
    return "" if access == "public" else f" ({access})"


def _hub_revision(dataset: str) -> str:
    """The commit the hub serves for ``dataset`` now: the download is pinned to it and the manifest records it."""
    from huggingface_hub import HfApi

    try:
        sha = HfApi().dataset_info(dataset).sha
    except Exception as exc:  # the hub client raises many types (HTTP, offline, auth)
        raise MirrorError(
            f"could not resolve the current revision of {dataset} on the hub ({exc}); check the id, your access"
            f"{_access_note(dataset)} and the network, then re-run `lm-eval-iberian data pull`"
        ) from exc
    if not sha:
        raise MirrorError(f"the hub returned no revision for {dataset}; re-run `lm-eval-iberian data pull` later")
    return sha


def pull(
    dest: str | Path,
    task_names: list[str] | None = None,
    datasets_filter: list[str] | None = None,
    log: Log = print,
) -> list[SplitRef]:
    """Download every split the tasks read into ``dest``; return what was written.

    Each hub dataset is downloaded at the revision resolved first, which the manifest records as its origin.
    """
    import datasets

    dest = check_writable(dest, "--dest")
    read_manifest(dest)  # a damaged manifest stops the pull before any download
    refs = required_files(task_names)
    if datasets_filter:
        unknown = sorted(set(datasets_filter) - set(SCHEMAS))
        if unknown:
            raise MirrorError(f"unknown dataset(s) {unknown}; the tasks read: {', '.join(sorted(SCHEMAS))}")
        refs = [r for r in refs if r.dataset in datasets_filter]
    written = []
    revisions: dict[str, str] = {}
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
            ds = datasets.load_dataset(ref.dataset, _hub_config(ref.config), split=ref.split, revision=revisions[ref.dataset])
        except Exception as exc:
            raise MirrorError(f"could not download {ref}: {exc}{_access_note(ref.dataset)}") from exc
        origin = f"hub:{ref.dataset}@{revisions[ref.dataset]}"
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


LOCAL_FORMATS = ".jsonl, .json, .jsonl.gz, .json.gz, .parquet, .csv, .tsv, .xlsx"


@dataclass
class LocalRows:
    """Rows read from a local file, and what was skipped on the way (reported to the user)."""

    rows: list[dict[str, Any]]
    blank_rows: int = 0
    other_splits: dict[str, int] = field(default_factory=dict)


def _schema_cell(value: Any, type_name: str | None) -> Any:
    """A table cell as the schema wants it: digit-only text becomes an integer only in integer fields.

    Spreadsheets type cells themselves: a number in a text field ("1936" as a CoLA sentence) becomes text again,
    a whole float in an integer field (1.0) an integer; JSON-looking text in list fields is decoded.
    """
    if type_name == "int":
        if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value
    if type_name in {"str", "str?"}:
        if isinstance(value, bool):
            return value  # the schema check names it
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            return str(int(value)) if value.is_integer() else repr(value)
        return value
    if type_name in {"list[str]", "list[object]", "choices"} and isinstance(value, str) and value.strip()[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value  # left as text: the schema check names the row and field
    return value


def _is_blank(cells: list[Any]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


def _table_rows(path: Path, header: list[Any], body: list[list[Any]], dataset: str, split: str,
                split_column: str | None, split_value: str | None) -> LocalRows:
    names = ["" if h is None else str(h).strip() for h in header]
    if not any(names):
        raise MirrorError(f"{path}: the first row must name the columns (e.g. Sentence, Label); it is empty")
    if len(set(names)) != len(names):
        duplicates = sorted({n for n in names if names.count(n) > 1})
        raise MirrorError(f"{path}: column names repeat ({', '.join(duplicates)}); give every column a distinct name")
    fields = schema_for(dataset).fields
    out = LocalRows([])
    wanted = split_value if split_value is not None else split
    if split_column is not None and split_column not in names:
        raise MirrorError(f"{path}: no column {split_column!r} for --split-column; the columns are: {', '.join(names)}")
    for line_no, cells in enumerate(body, 2):
        cells = list(cells) + [None] * (len(names) - len(cells))
        if len(cells) > len(names) and not _is_blank(cells[len(names):]):
            raise MirrorError(f"{path}:{line_no}: {len(cells)} cells but the header names {len(names)} columns")
        if _is_blank(cells):
            out.blank_rows += 1
            continue
        row = dict(zip(names, cells[: len(names)], strict=True))
        if split_column is not None:
            raw = row.pop(split_column)
            value = "" if raw is None else str(raw).strip()
            if value != wanted:
                out.other_splits[value] = out.other_splits.get(value, 0) + 1
                continue
        out.rows.append({k: _schema_cell("" if v is None and fields.get(k) == "str" else v, fields.get(k)) for k, v in row.items()})
    if split_column is not None and not out.rows:
        found = ", ".join(f"{v!r} ({n} rows)" for v, n in sorted(out.other_splits.items())) or "none"
        raise MirrorError(f"{path}: no row has {split_column}={wanted!r}; the values found are {found}; "
                          "pass --split-value VALUE to pick the rows of this split")
    return out


def _json_rows(path: Path, text: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MirrorError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg}); is the file complete? "
                          "Re-export it, or give JSON lines (.jsonl) with one object per line") from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise MirrorError(f"{path}: expected a JSON array of objects (one per row), got a {type(data).__name__}")
    for i, row in enumerate(data):
        if not isinstance(row, dict):
            raise MirrorError(f"{path}: item {i} of the JSON array is a {type(row).__name__}, not an object; "
                              "every row must be an object of fields (e.g. {\"question\": ..., \"answer\": ...})")
    return data


def _read_text(path: Path, gz: bool) -> str:
    import gzip

    try:
        raw = gzip.decompress(path.read_bytes()) if gz else path.read_bytes()
    except (gzip.BadGzipFile, EOFError, OSError) as exc:
        raise MirrorError(f"{path}: not a readable gzip file ({exc}); decompress or re-download it, "
                          "or drop the .gz suffix if it is plain text") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise MirrorError(f"{path}:{line}: not UTF-8 text; re-save the file as UTF-8") from None


def read_local_file(path: str | Path, dataset: str, split: str, split_column: str | None = None,
                    split_value: str | None = None, sheet: str | None = None) -> LocalRows:
    """Rows of a local file in one of :data:`LOCAL_FORMATS`, cells typed as ``dataset``'s schema wants.

    Tables (csv, tsv, xlsx) may hold several splits: ``split_column`` names the column to select on (rows whose
    value equals ``split_value``, default ``split``). Blank rows are skipped and counted.
    """
    path = Path(path)
    if not path.is_file():
        raise MirrorError(f"{path}: no such file")
    gz = path.suffix == ".gz"
    suffix = "".join(path.suffixes[-2:]).lower() if gz else path.suffix.lower()
    table_only = split_column is not None or sheet is not None
    if table_only and suffix not in {".csv", ".tsv", ".xlsx"}:
        raise MirrorError(f"{path}: --split-column and --sheet apply to .csv, .tsv and .xlsx files, not {suffix or 'this file'}")
    if suffix in {".jsonl", ".jsonl.gz"}:
        return LocalRows([row for _, row in json_lines(_read_text(path, gz).splitlines(), str(path), MirrorError)])
    if suffix in {".json", ".json.gz"}:
        text = _read_text(path, gz)
        if text.lstrip().startswith("["):
            return LocalRows(_json_rows(path, text))
        return LocalRows(_jsonl_or_json(path, text))
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            return LocalRows(pq.read_table(path).to_pylist())
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise MirrorError(f"{path}: not a readable parquet file ({exc}); re-download or re-export it") from None
    if suffix in {".csv", ".tsv"}:
        import csv
        import io

        reader = csv.reader(io.StringIO(_read_text(path, False), newline=""), delimiter="\t" if suffix == ".tsv" else ",")
        try:
            table = list(reader)
        except csv.Error as exc:
            raise MirrorError(f"{path}:{reader.line_num}: not valid {suffix[1:].upper()} ({exc})") from None
        if not table:
            raise MirrorError(f"{path}: the file is empty")
        return _table_rows(path, table[0], table[1:], dataset, split, split_column, split_value)
    if suffix == ".xlsx":
        return _xlsx_rows(path, dataset, split, split_column, split_value, sheet)
    raise MirrorError(f"{path}: unsupported file type {suffix or '(none)'!r}; use one of {LOCAL_FORMATS}")


def _jsonl_or_json(path: Path, text: str) -> list[dict[str, Any]]:
    """A ``.json`` file holding one object, or (as many exports do) one object per line."""
    stripped = text.strip()
    if not stripped:
        raise MirrorError(f"{path}: the file is empty")
    try:
        return _json_rows(path, stripped)
    except MirrorError:
        if "\n" not in stripped:
            raise
    return [row for _, row in json_lines(text.splitlines(), str(path), MirrorError)]


def _xlsx_rows(path: Path, dataset: str, split: str, split_column: str | None, split_value: str | None,
               sheet: str | None) -> LocalRows:
    import zipfile

    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise MirrorError(f"{path}: not a readable .xlsx workbook ({exc}); re-export it from the spreadsheet program") from None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise MirrorError(f"{path}: no sheet {sheet!r}; the sheets are: {', '.join(book.sheetnames)}")
        table = list(book[sheet or book.sheetnames[0]].iter_rows(values_only=True))
    finally:
        book.close()
    if not table:
        raise MirrorError(f"{path}: sheet {sheet or book.sheetnames[0]!r} is empty")
    return _table_rows(path, list(table[0]), [list(r) for r in table[1:]], dataset, split, split_column, split_value)


def add(
    root: str | Path,
    dataset: str,
    config: str | None,
    split: str,
    file: str | Path,
    *,
    split_column: str | None = None,
    split_value: str | None = None,
    sheet: str | None = None,
) -> tuple[SplitRef, LocalRows]:
    """Import a local file as one split of the mirror, after checking it against the task schema.

    Everything is checked (dataset, split, file, rows, the mirror's manifest) before the first byte is written;
    a failed ``add`` leaves the mirror as it was.
    """
    schema_for(dataset)  # unknown dataset -> clear error
    ref = SplitRef(dataset, config or "default", split)
    needed = [r for r in required_files() if r.dataset == dataset]
    if ref not in needed:
        choices = ", ".join(f"--config {r.config} --split {r.split}" for r in needed)
        raise MirrorError(f"no iberian_* task reads {ref}; the tasks read {dataset} as: {choices}")
    root = check_output(root, {"FILE": file}, "--dir")
    local = read_local_file(file, dataset, split, split_column=split_column, split_value=split_value, sheet=sheet)
    write_split(root, ref, local.rows, f"local:{Path(file).name}")
    return ref, local
