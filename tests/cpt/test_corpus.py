"""Corpus filters: every rule with a kept and a dropped example in every language; the datatrove run."""

import json
import re

import pytest
from datatrove.data import Document
from lm_eval_iberian.cpt import lexicons
from lm_eval_iberian.cpt.corpus import (
    C4LocalizedFilter,
    IberianWordTokenizer,
    TLDFilter,
    build_pipeline,
    filter_corpus,
    make_executor,
)

from tests.cpt.texts import BAD_WORD, BASQUE_LONG_WORDS, CLEAN

LANGS = list(CLEAN)


def _doc(text: str, **metadata) -> Document:
    return Document(text=text, id="d", metadata=metadata)


def _gopher(lang: str):
    from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter

    steps = build_pipeline("unused", "/tmp/unused-filter-out", lang)
    quality = next(s for s in steps if isinstance(s, GopherQualityFilter))
    repetition = next(s for s in steps if isinstance(s, GopherRepetitionFilter))
    return quality, repetition


def _verdict(step, text: str):
    result = step.filter(_doc(text))
    return result if isinstance(result, tuple) else (result, None)


@pytest.mark.parametrize("lang", LANGS)
def test_clean_natural_text_passes_every_rule(lang):
    quality, repetition = _gopher(lang)
    c4 = C4LocalizedFilter(lang)
    doc = _doc(CLEAN[lang])
    assert c4.filter(doc) is True and doc.text == CLEAN[lang]
    assert _verdict(repetition, CLEAN[lang]) == (True, None)
    assert _verdict(quality, CLEAN[lang]) == (True, None)


@pytest.mark.parametrize("lang", LANGS)
def test_c4_rules(lang):
    c4 = C4LocalizedFilter(lang)
    base = CLEAN[lang]
    assert _verdict(c4, base + "\nLorem ipsum dolor sit amet.") == (False, "c4_lorem_ipsum")
    doc = _doc(base + "\nEnable JavaScript to continue.")
    assert c4.filter(doc) is True and doc.text == base  # C4 removes the line, not the page
    assert _verdict(c4, base + "\nThe code is function() { return 1; }.") == (False, "c4_curly_bracket")
    assert _verdict(c4, base + "\n{}") == (True, None)  # a removed line (too short) cannot drop the page
    bad = base.replace("\n", f" {BAD_WORD[lang].capitalize()}.\n", 1)
    assert _verdict(c4, bad) == (False, "c4_bad_word")
    # A bad word inside a longer word is not a bad word.
    assert _verdict(c4, base + f"\nThe word x{BAD_WORD[lang]}y is not one of them.") == (True, None)
    assert _verdict(c4, "no punctuation here at all\nnor here") == (False, "c4_no_lines_left")
    doc = _doc(base + "\nMenu Home About\nOk.\nRead more...")
    assert c4.filter(doc) is True and doc.text == base  # lines removed, document kept


@pytest.mark.parametrize(("lang", "ending", "kept"), [
    ("es", "dijo: «Ya vuelvo.»", True), ("ca", "va dir: «Ara torno.»", True), ("gl", "e así seguiron…", True),
    ("eu", "esan zuen: «Banoa.»", True), ("en", "and so on…", False), ("es", "y así seguían...", False),
])
def test_terminal_punctuation_is_localized(lang, ending, kept):
    doc = _doc(CLEAN[lang] + "\nLa última línea " + ending)
    assert C4LocalizedFilter(lang).filter(doc) is True
    assert doc.text.endswith(ending) is kept


@pytest.mark.parametrize("lang", LANGS)
def test_gopher_repetition_rules(lang):
    _, repetition = _gopher(lang)
    lines = CLEAN[lang].splitlines()
    assert _verdict(repetition, "\n".join(lines + [lines[0]] * 3))[0] is False  # duplicate lines
    words = CLEAN[lang].split()
    bigram = " ".join(words[:2])
    assert _verdict(repetition, CLEAN[lang] + "\n" + " ".join([bigram] * 40) + ".") == (False, "top_2_gram")


@pytest.mark.parametrize("lang", LANGS)
def test_gopher_quality_rules(lang):
    quality, _ = _gopher(lang)
    base = CLEAN[lang]
    assert _verdict(quality, base.splitlines()[0]) == (False, "gopher_short_doc")
    assert _verdict(quality, base + "\n" + " ".join(["#tag"] * 40)) == (False, "gopher_too_many_hashes")
    assert _verdict(quality, base + "\n" + " ".join(["…"] * 40)) == (False, "gopher_too_many_ellipsis")
    bullets = "\n".join("- " + line for line in base.splitlines())
    assert _verdict(quality, bullets) == (False, "gopher_too_many_bullets")
    assert _verdict(quality, "\n".join(line + " ..." for line in base.splitlines())) == (False, "gopher_too_many_end_ellipsis")
    numbers = base + "\n" + " ".join(str(1000 + i) for i in range(200))
    assert _verdict(quality, numbers) == (False, "gopher_below_alpha_threshold")
    short_words = " ".join(["ab", "cd", "ef", "gh", "ij", "kl"] * 15) + " " + " ".join(sorted(lexicons.STOP_WORDS[lang])[:3])
    assert _verdict(quality, short_words) == (False, "gopher_below_avg_threshold")
    no_stop = re.sub(r"(?<!\w)(" + "|".join(map(re.escape, lexicons.STOP_WORDS[lang])) + r")(?!\w)", "zzz", base, flags=re.I)
    assert _verdict(quality, no_stop) == (False, "gopher_enough_stop_words")


def test_stop_words_and_word_length_are_localized():
    from datatrove.pipeline.filters import GopherQualityFilter

    english_defaults = {lang: GopherQualityFilter(language=IberianWordTokenizer(lang)) for lang in LANGS}
    for lang in ("es", "ca", "gl", "eu"):  # Gopher's English stop words reject every Iberian document
        assert _verdict(english_defaults[lang], CLEAN[lang]) == (False, "gopher_enough_stop_words")
    quality, _ = _gopher("eu")
    assert _verdict(quality, BASQUE_LONG_WORDS) == (True, None)
    long_en = GopherQualityFilter(stop_words=sorted(lexicons.STOP_WORDS["eu"]), language=IberianWordTokenizer("eu"))
    assert _verdict(long_en, BASQUE_LONG_WORDS) == (False, "gopher_above_avg_threshold")


def test_basque_word_length_bounds_hold_on_real_basque_text():
    """The 541 Basque IFEval prompts (real Basque), in documents of 8: all inside the Basque bounds."""
    import numpy as np
    from datatrove.utils.text import PUNCTUATION_SET

    from tests.ifeval.conftest import published_file

    prompts = [json.loads(x)["prompt"] for x in published_file("eu").read_text(encoding="utf-8").splitlines()]
    tokenizer = IberianWordTokenizer("eu")
    low, high = lexicons.MEAN_WORD_LENGTH["eu"]
    means = []
    for i in range(0, len(prompts), 8):
        words = [w for w in tokenizer.word_tokenize("\n".join(prompts[i : i + 8])) if any(c not in PUNCTUATION_SET for c in w)]
        means.append(float(np.mean([len(w) for w in words])))
    assert all(low <= m <= high for m in means), (min(means), max(means))
    assert 5.0 < float(np.median(means)) < 7.5  # clearly above English (about 4.5)


@pytest.mark.parametrize("lang", LANGS)
def test_tld_filter(lang):
    tld = TLDFilter(["es", "eus", "cat", "gal"])
    assert tld.filter(_doc(CLEAN[lang], url="https://www.berria.eus/albisteak/1")) is True
    assert tld.filter(_doc(CLEAN[lang], url="http://xunta.gal")) is True
    assert tld.filter(_doc(CLEAN[lang], url="https://example.com/es/")) == (False, "url_tld")
    assert tld.filter(_doc(CLEAN[lang], url="https://fakees.com")) == (False, "url_tld")
    assert tld.filter(_doc(CLEAN[lang])) == (False, "url_missing")


def test_filter_corpus_reports_every_rule_and_malformed_line(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    rows = [
        {"text": CLEAN["eu"], "url": "https://www.berria.eus/a"},
        {"text": CLEAN["eu"].replace("Herriko", "Herriko lorem ipsum"), "url": "https://a.eus/b"},
        {"text": CLEAN["eu"], "url": "https://example.com/c"},
        {"text": CLEAN["eu"].splitlines()[0], "url": "https://b.eus/d"},
        {"text": CLEAN["es"], "url": "https://elpais.es/e"},
    ]
    lines = [json.dumps(r, ensure_ascii=False) for r in rows] + ["{not json", json.dumps({"body": "no text field"})]
    (src / "part.jsonl").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    report = filter_corpus(str(src), str(out), "eu", tlds=["eus", "es"])
    assert report["read"] == 5 and report["malformed_lines"] == 2
    assert report["kept"] == 1
    assert report["dropped"] == {
        "url_tld": 1,
        "c4_lorem_ipsum": 1,
        "gopher_repetition_top_3_gram": 1,  # a one-line document: its top 3-gram is a large share of it
        "gopher_quality_gopher_enough_stop_words": 1,  # the Spanish document has no Basque stop words
    }
    malformed = [json.loads(x) for x in (out / "removed" / "malformed" / "00000.jsonl").read_text().splitlines()]
    assert [m["line"] for m in malformed] == [6, 7] and "not JSON" in malformed[0]["why"]
    assert json.loads((out / "report.json").read_text()) == report
    kept = list((out / "kept").glob("*.jsonl.gz"))
    assert kept and list((out / "removed" / "c4").glob("*.jsonl.gz"))


def test_slurm_executor_is_configured_not_reimplemented(tmp_path):
    from datatrove.executor import SlurmPipelineExecutor

    pipeline = build_pipeline(str(tmp_path), str(tmp_path / "out"), "gl")
    executor = make_executor("slurm", pipeline, str(tmp_path / "logs"), tasks=64, slurm={"partition": "cpu-long", "time": "04:00:00"})
    assert isinstance(executor, SlurmPipelineExecutor) and executor.tasks == 64 and executor.partition == "cpu-long"
    with pytest.raises(ValueError, match="choose local or slurm"):
        make_executor("ray", pipeline, str(tmp_path / "logs"))
    with pytest.raises(ValueError, match="choose one of en, es, ca, gl, eu"):
        build_pipeline(str(tmp_path), str(tmp_path / "out"), "pt")


def test_cli(tmp_path, capsys):
    from lm_eval_iberian.cli import main

    src = tmp_path / "in"
    src.mkdir()
    (src / "a.jsonl").write_text(json.dumps({"content": CLEAN["gl"]}, ensure_ascii=False) + "\n")
    assert main(["corpus", "filter", "--input", str(src), "--output", str(tmp_path / "out"), "--lang", "gl", "--text-key", "content"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["read"], report["kept"], report["dropped"]) == (1, 1, {})
    assert main(["corpus", "filter", "--input", str(src), "--output", str(tmp_path / "o2"), "--lang", "pt"]) == 2
    assert "choose one of en, es, ca, gl, eu" in capsys.readouterr().err
