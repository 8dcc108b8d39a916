"""Documented corrections to the published IFEval translations, and per-prompt facts.

``data/errata.yaml`` lists one :class:`Erratum` per defective kwarg (or
instruction id); ``data/answer_language.yaml`` lists the prompts whose answer
must be in a language other than the file's; ``data/quote_marks.yaml`` lists the
prompts that ask for double quotes, where «» does not count. All three are data
shipped with the package, read once, shown in the README, and applied only by
the corrected scoring (the default).
"""

import functools
import json
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict

from lm_eval_iberian.ifeval._languages import LANGUAGES


class Erratum(BaseModel):
    """Replace ``field`` of ``instruction`` in record ``key`` of language ``lang``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lang: str
    key: int
    instruction: str
    field: str
    published: Any
    corrected: Any
    reason: str


class AnswerLanguage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    language: str
    evidence: str


class QuoteMarks(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    marks: Literal["double"]
    evidence: str


def _read(name: str) -> Any:
    text = resources.files("lm_eval_iberian.ifeval").joinpath("data", name).read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _check_languages(name: str, langs: set[str]) -> None:
    bad = sorted(langs - set(LANGUAGES))
    if bad:
        raise ValueError(f"{name}: unknown language(s) {bad}; choose from {', '.join(LANGUAGES)}")


@functools.lru_cache(maxsize=1)
def load_errata() -> tuple[Erratum, ...]:
    """Every erratum shipped with the package, in file order."""
    errata = tuple(Erratum.model_validate(e) for e in _read("errata.yaml"))
    _check_languages("errata.yaml", {e.lang for e in errata})
    return errata


@functools.lru_cache(maxsize=1)
def load_answer_languages() -> dict[str, dict[int, AnswerLanguage]]:
    """``{lang: {key: AnswerLanguage}}`` for prompts answered in another language."""
    raw = _read("answer_language.yaml") or {}
    _check_languages("answer_language.yaml", set(raw))
    return {lang: {int(k): AnswerLanguage.model_validate(v) for k, v in rows.items()} for lang, rows in raw.items()}


@functools.lru_cache(maxsize=1)
def load_quote_marks() -> dict[str, dict[int, QuoteMarks]]:
    """``{lang: {key: QuoteMarks}}`` for prompts that ask for double quotes."""
    raw = _read("quote_marks.yaml") or {}
    _check_languages("quote_marks.yaml", set(raw))
    return {lang: {int(k): QuoteMarks.model_validate(v) for k, v in rows.items()} for lang, rows in raw.items()}


def errata_for(lang: str) -> dict[tuple[int, str], list[Erratum]]:
    out: dict[tuple[int, str], list[Erratum]] = {}
    for erratum in load_errata():
        if erratum.lang == lang:
            out.setdefault((erratum.key, erratum.instruction), []).append(erratum)
    return out


def _cell(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, list) or value is None else str(value)
    text = text if len(text) <= 60 else text[:57] + "..."
    return "`" + text.replace("|", "\\|").replace("`", "'") + "`"


def _keys_by_value(rows: dict[int, Any], attribute: str) -> dict[str, list[int]]:
    grouped: dict[str, list[int]] = {}
    for key, row in rows.items():
        grouped.setdefault(getattr(row, attribute), []).append(key)
    return grouped


def render_errata_markdown() -> str:
    """The errata, answer-language and quote-mark tables as they appear in the README."""
    lines = [
        "| lang | key | instruction | field | published | corrected | why |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in load_errata():
        lines.append(
            f"| {e.lang} | {e.key} | {e.instruction} | {e.field} | {_cell(e.published)} | {_cell(e.corrected)} | "
            f"{e.reason.replace('|', '/')} |"
        )
    lines += ["", "| lang | prompts whose answer must be in English (keys) |", "|---|---|"]
    for lang, rows in load_answer_languages().items():
        for language, keys in _keys_by_value(rows, "language").items():
            lines.append(f"| {lang} → {language} | {len(keys)}: {', '.join(map(str, sorted(keys)))} |")
    lines += ["", "| lang | startend:quotation prompts that ask for double quotes (keys) |", "|---|---|"]
    for lang, rows in load_quote_marks().items():
        lines.append(f"| {lang} | {len(rows)}: {', '.join(map(str, sorted(rows)))} |")
    return "\n".join(lines)
