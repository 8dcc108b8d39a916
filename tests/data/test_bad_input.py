"""`data pull / add / verify` on ordinary mistakes and damaged files: one error naming the problem and the fix,
the mirror byte for byte as it was, no half-written file."""

import gzip
import json
import os
import shutil
from pathlib import Path

import pytest

from lm_eval_iberian.data import MANIFEST_NAME, SplitRef
from lm_eval_iberian.data._mirror import split_file

TRIVIA = SplitRef("HiTZ/EusTrivia", "default", "test")


def _rows(demo_mirror, ref=TRIVIA):
    return [json.loads(line) for line in split_file(demo_mirror, ref).read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture
def mirror(tmp_path, demo_mirror) -> Path:
    """A copy of the demo mirror (the user's input: it must never change on a failed command)."""
    out = tmp_path / "mirror"
    shutil.copytree(demo_mirror, out)
    return out


@pytest.fixture
def good_file(tmp_path, demo_mirror) -> Path:
    path = tmp_path / "trivia.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in _rows(demo_mirror)), encoding="utf-8")
    return path


def _add(mirror, file, *extra, dataset="HiTZ/EusTrivia", split="test"):
    return ["data", "add", "--dir", mirror, "--dataset", dataset, "--split", split, *extra, file]


@pytest.mark.parametrize(("manifest", "fragment"), [
    ("{not json", "manifest is not valid JSON"),
    ('{"format": 1}', "manifest has no 'files' object"),
    ('{"format": 1, "files": {"HiTZ/EusTrivia/default/test.jsonl": {"rows": 8}}}', "lacks its sha256 or row count"),
    ('{"format": 2, "files": {}}', "mirror format 2 is not 1"),
    ("[1, 2]", "must be a JSON object"),
    (b"\xff\xfe{}", "not UTF-8 text"),
])
def test_add_into_a_mirror_with_a_damaged_manifest_changes_nothing(cli_error, mirror, good_file, manifest, fragment):
    path = mirror / MANIFEST_NAME
    path.write_bytes(manifest if isinstance(manifest, bytes) else manifest.encode())
    err = cli_error(_add(mirror, good_file), fragment, str(path), "data pull", inputs=[mirror, good_file])
    assert "restore it" in err


@pytest.mark.parametrize(("name", "content", "fragments"), [
    ("scalars.json", "[1, 2, 3]", ["item 0 of the JSON array is a int, not an object"]),
    ("cut.json", '[{"question": "a",\n "candidates": ["x", "y"]', ["cut.json:2: not valid JSON", "is the file complete"]),
    ("array-line.jsonl", '{"question": "a", "candidates": ["x", "y"], "answer": 0}\n[1, 2]\n', ["array-line.jsonl:2", "got a list"]),
    ("cut.jsonl", '{"question": "a", "candidates": ["x", "y"], "answer": 0}\n{"question": "b", "cand', ["cut.jsonl:2: not valid JSON"]),
    ("plain.jsonl.gz", '{"question": "a"}\n', ["plain.jsonl.gz: not a readable gzip file", "drop the .gz suffix"]),
    ("plain.json.gz", "[]", ["plain.json.gz: not a readable gzip file"]),
    ("latin1.jsonl", b'{"question": "\xe9"}\n', ["latin1.jsonl:1: not UTF-8 text", "re-save the file as UTF-8"]),
    ("notes.txt", "hello", ["unsupported file type '.txt'", ".xlsx"]),
    ("empty.json", "", ["empty.json: the file is empty"]),
    ("empty.csv", "", ["empty.csv: the file is empty"]),
    ("dup.csv", "question,question,answer\na,b,0\n", ["column names repeat (question)"]),
    ("wide.csv", "question,candidates,answer\na,[],0,extra\n", ["wide.csv:2: 4 cells but the header names 3 columns"]),
    ("badrow.jsonl", '{"question": "a", "candidates": ["x", "y"], "answer": 7}\n', ["row 1", "answer 7 is not an index"]),
    ("damaged.xlsx", b"PK\x03\x04 not really a workbook", ["damaged.xlsx: not a readable .xlsx workbook"]),
    ("damaged.parquet", b"PAR1 nope", ["damaged.parquet: not a readable parquet file"]),
])
def test_add_names_the_damaged_file(cli_error, mirror, tmp_path, name, content, fragments):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    cli_error(_add(mirror, path), *fragments, inputs=[mirror, path])


def test_add_refuses_a_file_inside_the_mirror(cli_error, mirror):
    inside = split_file(mirror, TRIVIA)  # re-importing the mirror's own file over itself
    cli_error(_add(mirror, inside), "--dir", "contains FILE", inputs=[mirror])


def test_add_without_a_mirror_folder_names_both_ways(cli_error, good_file, monkeypatch):
    monkeypatch.delenv("IBERIAN_DATA_DIR")
    cli_error(["data", "add", "--dataset", "HiTZ/EusTrivia", "--split", "test", good_file], "--dir DIR", "IBERIAN_DATA_DIR",
              inputs=[good_file])


@pytest.mark.parametrize(("extra", "fragments"), [
    (["--split-column", "Partition"], ["no column 'Partition'", "the columns are: Sentence, Label, Split"]),
    (["--split-column", "Split", "--split-value", "dev"], ["no row has Split='dev'", "'train' (2 rows)", "--split-value"]),
    (["--sheet", "Sheet9"], ["--split-column and --sheet apply to .csv, .tsv and .xlsx"]),
])
def test_add_split_column_mistakes(cli_error, mirror, tmp_path, extra, fragments):
    src = tmp_path / "catcola.tsv" if "--sheet" not in extra else tmp_path / "catcola.jsonl"
    src.write_text("Sentence\tLabel\tSplit\nEl gat dorm.\t1\ttrain\nDorm gat el.\t0\ttrain\n", encoding="utf-8")
    cli_error(_add(mirror, src, *extra, dataset="nbel/CatCoLA", split="validation"), *fragments, inputs=[mirror, src])


def test_add_missing_sheet_lists_the_sheets(cli_error, mirror, tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "EsCoLA"
    book.active.append(["Sentence", "Label"])
    book.active.append(["Juan come.", 1])
    src = tmp_path / "escola.xlsx"
    book.save(src)
    cli_error(_add(mirror, src, "--sheet", "Hoja1", dataset="nbel/EsCoLA", split="validation"), "no sheet 'Hoja1'",
              "the sheets are: EsCoLA", inputs=[mirror, src])


def test_verify_unknown_task_and_pull_unknown_dataset_are_one_line(cli_error, mirror):
    cli_error(["data", "verify", "--dir", mirror, "--tasks", "iberian_eus_trivia,iberian_nope"], "unknown task or group 'iberian_nope'",
              "lm-eval-iberian tasks", inputs=[mirror])
    cli_error(["data", "pull", "--dest", mirror, "--datasets", "HiTZ/Nope"], "unknown dataset", inputs=[mirror])


def test_pull_into_a_damaged_mirror_stops_before_any_download(cli_error, mirror, monkeypatch):
    import datasets
    import huggingface_hub

    (mirror / MANIFEST_NAME).write_text("{oops")
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: pytest.fail("downloaded into a damaged mirror"))
    monkeypatch.setattr(huggingface_hub.HfApi, "dataset_info", lambda *a, **k: pytest.fail("asked the hub"))
    cli_error(["data", "pull", "--dest", mirror, "--datasets", "nbel/EsCoLA"], "manifest is not valid JSON", inputs=[mirror])


def test_pull_into_an_unwritable_place_stops_first(cli_error, monkeypatch):
    import datasets

    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: pytest.fail("downloaded"))
    cli_error(["data", "pull", "--dest", "/sys/lm-eval-iberian-test/mirror", "--datasets", "nbel/EsCoLA"], "cannot create files in /sys")


def test_mirror_files_follow_the_umask(tmp_path, good_file):
    from lm_eval_iberian.data import add

    old = os.umask(0o022)
    try:
        add(tmp_path / "shared-mirror", "HiTZ/EusTrivia", None, "test", good_file)
    finally:
        os.umask(old)
    for path in (tmp_path / "shared-mirror" / MANIFEST_NAME, split_file(tmp_path / "shared-mirror", TRIVIA)):
        assert path.stat().st_mode & 0o777 == 0o644, oct(path.stat().st_mode)  # readable by the other users of a shared mirror


def test_a_failed_write_leaves_the_mirror_as_it_was(tmp_path, mirror, demo_mirror, monkeypatch, tree_hashes):
    """The disk fills up while the new split is written: old split and manifest stay, no temporary file remains."""
    import errno

    from lm_eval_iberian.data import add

    src = tmp_path / "new.jsonl"
    src.write_text("".join(json.dumps({**r, "question": r["question"] + "?"}, ensure_ascii=False) + "\n" for r in _rows(demo_mirror)))
    before = tree_hashes([mirror])
    real_fsync = os.fsync

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space left"):
        add(mirror, "HiTZ/EusTrivia", None, "test", src)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert tree_hashes([mirror]) == before
    assert not [p for p in mirror.rglob("*") if ".tmp" in p.name]


@pytest.mark.parametrize("compressed", [False, True])
def test_gzip_jsonl_is_read(tmp_path, demo_mirror, compressed):
    from lm_eval_iberian.data import add, verify

    rows = _rows(demo_mirror)
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    src = tmp_path / ("t.jsonl.gz" if compressed else "t.jsonl")
    src.write_bytes(gzip.compress(text) if compressed else text)
    add(tmp_path / "m", "HiTZ/EusTrivia", None, "test", src)
    assert verify(tmp_path / "m", ["iberian_eus_trivia"]).passed
