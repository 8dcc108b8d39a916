"""Loading IFEval rows: normalisation, validation, errata, protocols, case languages."""

import json

import pytest

from lm_eval_iberian.ifeval import (
    IFEvalDataError,
    load_answer_languages,
    load_errata,
    load_quote_marks,
    prepare_records,
    score_responses,
)
from tests.ifeval.conftest import published_file


def _row(key=1, ids=("punctuation:no_comma",), kwargs=({},), prompt="Write."):
    return {"key": key, "prompt": prompt, "instruction_id_list": list(ids), "kwargs": [dict(k) for k in kwargs]}


def _published(lang: str) -> list[dict]:
    return [json.loads(line) for line in published_file(lang).read_text(encoding="utf-8").splitlines()]


def test_normalises_prefixes_nulls_and_json_text():
    row = {
        "key": "7",
        "prompt": "p",
        "instruction_id_list": ["es:keywords:frequency", "ca:punctuation:no_comma"],
        "kwargs": json.dumps([{"keyword": "sí", "frequency": 2, "relation": "at least", "letter": None}, {"language": None}]),
    }
    (record,) = prepare_records([row], "es")
    assert record.key == 7
    assert record.instruction_id_list == ["keywords:frequency", "punctuation:no_comma"]
    assert record.kwargs == [{"keyword": "sí", "frequency": 2, "relation": "at least"}, {}]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (_row(ids=["keywords:frequency"], kwargs=[{"keyword": "a", "frequency": 2, "relation": "at most"}]), "relation"),
        (_row(ids=["keywords:frequency"], kwargs=[{"keyword": "a", "relation": "at least"}]), "frequency"),
        (_row(ids=["keywords:existence"], kwargs=[{"keywords": "solo"}]), "keywords"),
        (_row(ids=["detectable_content:postscript"], kwargs=[{"postscript_marker": "Write the request first. P.S."}]), "postscript_marker"),
        (_row(ids=["no:such_instruction"]), "unknown instruction"),
        (_row(ids=["punctuation:no_comma", "detectable_format:title"], kwargs=[{}]), "2 instruction ids but 1 kwargs"),
        (_row(ids=["punctuation:no_comma"], kwargs=[{"unexpected": 1}]), "unexpected"),
    ],
)
def test_bad_records_fail_at_load_naming_the_record(row, message):
    with pytest.raises(IFEvalDataError) as err:
        prepare_records([row, _row(key=2)], "eu")
    assert message in str(err.value)
    assert "record 1" in str(err.value)


def test_unknown_language_and_protocol_are_clear_errors():
    with pytest.raises(ValueError, match="choose one of en, es, ca, gl, eu"):
        prepare_records([_row()], "pt")
    with pytest.raises(ValueError, match="choose one of paper, full"):
        prepare_records([_row()], "eu", protocol="strict")


def test_paper_protocol_drops_response_language():
    rows = [
        _row(1, ["language:response_language"], [{"language": "it"}]),
        _row(2, ["language:response_language", "punctuation:no_comma"], [{"language": "it"}, {}]),
    ]
    paper = prepare_records(rows, "en", protocol="paper")
    assert [(r.key, r.instruction_id_list) for r in paper] == [(2, ["punctuation:no_comma"])]
    assert len(prepare_records(rows, "en", protocol="full")) == 2


def test_errata_table_is_consistent():
    errata = load_errata()
    assert len(errata) == 65
    assert len({(e.lang, e.key, e.instruction, e.field) for e in errata}) == len(errata)
    assert all(e.reason and e.published != e.corrected for e in errata)
    cases = load_answer_languages()
    assert set(cases) == {"gl", "eu"} and len(cases["gl"]) == len(cases["eu"]) == 39
    assert cases["eu"][1019].language == "en" and "ingelesez" in cases["eu"][1019].evidence
    quotes = load_quote_marks()
    assert {lang: len(rows) for lang, rows in quotes.items()} == {"es": 1, "gl": 38, "eu": 40}
    assert "comillas dobles" in quotes["es"][3623].evidence and 1658 not in quotes["gl"]


@pytest.mark.parametrize(("lang", "applied"), [("en", 0), ("es", 22), ("ca", 21), ("gl", 6), ("eu", 16)])
def test_published_files_load_with_every_erratum_applied(lang, applied):
    rows = _published(lang)
    full = prepare_records(rows, lang, protocol="full")
    assert len(full) == 541 and sum(len(r.instruction_id_list) for r in full) == 834
    assert sum(len(r.applied_errata) for r in full) == applied
    paper = prepare_records(rows, lang, protocol="paper")
    assert len(paper) == 524 and sum(len(r.instruction_id_list) for r in paper) == 803
    # Published scoring loads too: the documented defects reach the checkers unchanged.
    published = prepare_records(rows, lang, protocol="full", errata=False)
    assert all(not r.applied_errata and r.answer_language == lang and r.quote_marks == "language" for r in published)


def test_errata_fix_what_the_prompts_ask():
    es = {r.key: r for r in prepare_records(_published("es"), "es", protocol="full")}
    assert es[1739].kwargs[es[1739].instruction_id_list.index("language:response_language")] == {"language": "ro"}
    assert es[2070].kwargs[0] == {"postscript_marker": "P.D."}
    assert es[1436].kwargs[es[1436].instruction_id_list.index("keywords:forbidden_words")] == {
        "forbidden_words": ["calabozo", "asesinatos", "muertos", "noche"]
    }
    eu = {r.key: r for r in prepare_records(_published("eu"), "eu")}
    assert eu[2396].kwargs == [{"postscript_marker": "PD"}]
    assert eu[2943].instruction_id_list[1] == "change_case:english_capital"
    assert eu[1019].answer_language == "en" and eu[1000].answer_language == "eu"
    assert eu[3367].kwargs[1] == {"section_spliter": "Publikoa", "num_sections": 2, "section_label": "letter"}
    assert eu[3367].quote_marks == "double"


def test_erratum_is_skipped_when_the_source_changed():
    # A newer file that already fixed key 2396 keeps its own value.
    row = _row(2396, ["detectable_content:postscript"], [{"postscript_marker": "PPD"}])
    (record,) = prepare_records([row], "eu")
    assert record.kwargs == [{"postscript_marker": "PPD"}] and record.applied_errata == []


def test_published_scoring_reproduces_the_authors_checkers():
    # eu 142 publishes keywords as the string "katu"; the authors' checker
    # iterates its characters, so any text with k, a, t and u passes.
    rows = [_row(142, ["keywords:existence"], [{"keywords": "katu"}], prompt="Idatzi katuei buruz.")]
    response = "Txakurrak etxean daude."
    assert score_responses(rows, [response], "eu", errata=False).inst_level_strict_acc == 1.0
    assert score_responses(rows, [response], "eu").inst_level_strict_acc == 0.0
    # With errata on, the same defect in a record the table does not cover is an error.
    with pytest.raises(IFEvalDataError, match="record 99: keywords:existence: keywords"):
        prepare_records([_row(99, ["keywords:existence"], [{"keywords": "katu"}])], "eu")


def test_score_responses_accepts_lists_and_maps():
    rows = [_row(1), _row(2, ["detectable_format:title"], [{}])]
    by_list = score_responses(rows, ["no commas here", "<<Izenburua>> testua, koma"], "eu")
    by_map = score_responses(rows, {2: "<<Izenburua>> testua, koma", 1: "no commas here"}, "eu")
    assert by_list == by_map
    assert (by_list.n_prompts, by_list.n_instructions, by_list.prompt_level_strict_acc) == (2, 2, 1.0)
    with pytest.raises(ValueError, match="no response for record key"):
        score_responses(rows, {1: "x"}, "eu")
    with pytest.raises(ValueError, match="2 records"):
        score_responses(rows, ["x"], "eu")


def test_published_scoring_keeps_the_authors_lowercase_slip():
    """The authors' es/ca/gl/eu english_lowercase checker tests isupper()."""
    rows = [_row(5, ["change_case:english_lowercase"], [{}], prompt="Escribe en minúsculas.")]
    lower = "querido amigo, espero que estés bien. mañana habrá elecciones y te pido que vayas a votar."
    upper = lower.upper()
    assert score_responses(rows, [lower], "es").inst_level_strict_acc == 1.0
    assert score_responses(rows, [upper], "es").inst_level_strict_acc == 0.0
    assert score_responses(rows, [lower], "es", errata=False).inst_level_strict_acc == 0.0
    assert score_responses(rows, [upper], "es", errata=False).inst_level_strict_acc == 1.0
    # English is lm-eval's checker either way.
    english = "the weather is nice today and we are going to the beach"
    assert score_responses(rows, [english], "en", errata=False).inst_level_strict_acc == 1.0


def test_published_scoring_uses_the_authors_language_id_on_raw_text():
    """fastText never calls all-caps Basque Basque: their english_capital is 0/25 in every eu run."""
    rows = [_row(6, ["change_case:english_capital"], [{}], prompt="Idatzi letra larriz.")]
    upper = "GAUR EGURALDI OSO ONA DAGO ETA ARRATSALDEAN HONDARTZARA JOANGO GARA LAGUNEKIN"
    assert score_responses(rows, [upper], "eu").inst_level_strict_acc == 1.0
    assert score_responses(rows, [upper], "eu", errata=False).inst_level_strict_acc == 0.0


def test_published_scoring_needs_english_punkt(monkeypatch, tmp_path):
    import nltk

    from lm_eval_iberian.ifeval import _published

    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])
    _published._english_punkt.cache_clear()
    try:
        with pytest.raises(IFEvalDataError, match=r"python -m nltk.downloader punkt_tab.*NLTK_DATA"):
            prepare_records([_row()], "es", errata=False)
        assert len(prepare_records([_row()], "es")) == 1  # the corrected scoring does not need it
    finally:
        _published._english_punkt.cache_clear()


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([_row(key=12.7)], r"IFEval row 1: key must be an integer, got 12\.7 \(float\)"),
        ([_row(key=12.0)], r"key must be an integer, got 12\.0 \(float\)"),
        ([_row(key=True)], r"key must be an integer, got True \(bool\)"),
        ([_row(key="doce")], r"key must be an integer, got 'doce' \(str\)"),
        ([_row(key=1), {"prompt": "p", "instruction_id_list": [], "kwargs": []}], r"IFEval row 2: missing field\(s\) \['key'\]"),
        ([_row(key=1), ["key", 2]], r"IFEval row 2: expected an object with fields key, prompt.*got list"),
        ([_row(key=1), "text"], r"IFEval row 2: expected an object.*got str"),
        ([{**_row(key=4), "prompt": None}], r"record 4: prompt must be text"),
    ],
)
def test_bad_rows_are_refused_naming_the_row_and_the_fix(rows, message):
    with pytest.raises(IFEvalDataError, match=message):
        prepare_records(rows, "es")


def test_numeric_string_keys_are_integers():
    (record,) = prepare_records([_row(key=" 12 ")], "es")
    assert record.key == 12 and isinstance(record.key, int)
