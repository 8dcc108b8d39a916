"""`data add` on the files people actually have: CatCoLA's one TSV of every split, EsCoLA's .xlsx, digit-only text."""

import json

import pytest

from lm_eval_iberian.cli import main
from lm_eval_iberian.data import SplitRef, verify
from lm_eval_iberian.data._mirror import split_file

# CatCoLA as distributed: one TSV holding every split in a `Split` column, and blank rows at the end.
CATCOLA_TSV = (
    "ID\tSource\tLabel\tSentence\tSplit\n"
    "1\tGC\t1\tEl gat dorm al sofà.\ttrain\n"
    "2\tGC\t0\tDorm gat el al sofà.\ttrain\n"
    "3\tGC\t1\tLa Maria llegeix cada dia.\tdev\n"
    "4\tGC\t0\tLlegeix la cada Maria dia.\tdev\n"
    "5\tGC\t1\t1936\tdev\n"
    "6\tGC\t1\t007\tdev\n"
    "7\tGC\t1\tEls nens juguen.\ttest\n"
    "\t\t\t\t\n"
    "\t\t\t\t\n"
)


def _lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_catcola_tsv_with_a_split_column_and_blank_rows(tmp_path, capsys):
    src = tmp_path / "CatCoLA.tsv"
    src.write_text(CATCOLA_TSV, encoding="utf-8")
    mirror = tmp_path / "mirror"
    args = ["data", "add", "--dir", str(mirror), "--dataset", "nbel/CatCoLA", "--split-column", "Split", str(src)]
    assert main([*args[:6], "--split", "train", *args[6:]]) == 0
    out = capsys.readouterr().out
    assert "(2 rows)" in out and "skipped 2 blank row(s)" in out and "Split='dev' (4)" in out
    # The TSV calls validation "dev": --split-value picks those rows for the validation split.
    assert main([*args[:6], "--split", "validation", "--split-value", "dev", *args[6:]]) == 0
    rows = _lines(split_file(mirror, SplitRef("nbel/CatCoLA", "default", "validation")))
    assert [r["Sentence"] for r in rows] == ["La Maria llegeix cada dia.", "Llegeix la cada Maria dia.", "1936", "007"]
    assert [r["Label"] for r in rows] == [1, 0, 1, 1]  # integer field: digits become integers
    assert rows[2]["Sentence"] == "1936" and rows[3]["Sentence"] == "007"  # text fields stay text, zeros kept
    assert "Split" not in rows[0] and rows[0]["ID"] == "3"  # the split column is dropped; unknown columns stay text
    assert verify(mirror, ["iberian_catcola"]).passed


def test_rows_without_a_split_cell_are_picked_by_an_empty_split_value(tmp_path, capsys):
    src = tmp_path / "short-rows.tsv"  # the last rows stop before the Split column
    src.write_text(CATCOLA_TSV.split("\t\t\t\t\n")[0] + "8\tGC\t1\tEl sol surt.\n9\tGC\t0\tSurt sol el.\n", encoding="utf-8")
    mirror = tmp_path / "mirror"
    assert main(["data", "add", "--dir", str(mirror), "--dataset", "nbel/CatCoLA", "--split", "validation",
                 "--split-column", "Split", "--split-value", "", str(src)]) == 0
    rows = _lines(split_file(mirror, SplitRef("nbel/CatCoLA", "default", "validation")))
    assert [r["Sentence"] for r in rows] == ["El sol surt.", "Surt sol el."]
    assert all("Split" not in r for r in rows)  # dropped like any other split value


def test_escola_xlsx(tmp_path, capsys):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["ID", "Source", "Label", "Sentence", "Category"])
    sheet.append([1, "B", 1, "Juan come manzanas.", 0])
    sheet.append([2, "B", 0, "Come Juan manzanas las.", 1])
    sheet.append([3, "B", 1.0, 1936, 0])  # a spreadsheet types these cells as numbers
    sheet.append([None, None, None, None, None])
    src = tmp_path / "EsCoLA.xlsx"
    book.save(src)
    mirror = tmp_path / "mirror"
    for split in ("train", "validation"):
        assert main(["data", "add", "--dir", str(mirror), "--dataset", "nbel/EsCoLA", "--split", split, str(src)]) == 0
    assert "skipped 1 blank row(s)" in capsys.readouterr().out
    rows = _lines(split_file(mirror, SplitRef("nbel/EsCoLA", "default", "validation")))
    assert [(r["Sentence"], r["Label"]) for r in rows] == [("Juan come manzanas.", 1), ("Come Juan manzanas las.", 0), ("1936", 1)]
    assert verify(mirror, ["iberian_escola"]).passed


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_csv_and_tsv_cells_are_typed_by_the_schema(tmp_path, suffix):
    from lm_eval_iberian.data import add

    sep = "," if suffix == ".csv" else "\t"
    src = tmp_path / f"galcola{suffix}"
    src.write_text(sep.join(["sentence", "label"]) + "\n" + sep.join(["0042", "1"]) + "\n" + sep.join(["Ola.", "0"]) + "\n")
    ref, local = add(tmp_path / "m", "proxectonos/galcola", None, "test", src)
    assert [(r["sentence"], r["label"]) for r in local.rows] == [("0042", 1), ("Ola.", 0)]
    assert _lines(split_file(tmp_path / "m", ref))[0] == {"sentence": "0042", "label": 1}


def test_verify_asks_only_for_what_the_tasks_read_at_their_shots(tmp_path, demo_mirror):
    """XStoryCloze runs 0-shot: its train split is never read, so a mirror without it is complete."""
    import shutil

    mirror = tmp_path / "m"
    shutil.copytree(demo_mirror, mirror)
    removed = [t for t in mirror.glob("*/*xstory*/*/train.jsonl")]
    assert len(removed) == 5
    for train in removed:
        train.unlink()
    report = verify(mirror, ["iberian_xstorycloze_eu", "iberian_xstorycloze_ca", "iberian_xstorycloze_gl"])
    assert report.passed, report.lines()
