"""Documented corrections to the published IFEval translations.

``data/errata.yaml`` lists one :class:`Erratum` per defective kwarg (or
instruction id); ``data/case_language.yaml`` lists the prompts whose answer
must be in a language other than the file's for the change_case checks. Both
are data shipped with the package, read once, and shown in the README.
"""

import functools
import json
from importlib import resources
from typing import Any

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


class CaseLanguage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    language: str
    evidence: str


def _read(name: str) -> Any:
    text = resources.files("lm_eval_iberian.ifeval").joinpath("data", name).read_text(encoding="utf-8")
    return yaml.safe_load(text)


@functools.lru_cache(maxsize=1)
def load_errata() -> tuple[Erratum, ...]:
    """Every erratum shipped with the package, in file order."""
    errata = tuple(Erratum.model_validate(e) for e in _read("errata.yaml"))
    bad = sorted({e.lang for e in errata} - set(LANGUAGES))
    if bad:
        raise ValueError(f"errata.yaml: unknown language(s) {bad}; choose from {', '.join(LANGUAGES)}")
    return errata


@functools.lru_cache(maxsize=1)
def load_case_languages() -> dict[str, dict[int, CaseLanguage]]:
    """``{lang: {key: CaseLanguage}}`` for prompts answered in another language."""
    raw = _read("case_language.yaml") or {}
    return {lang: {int(k): CaseLanguage.model_validate(v) for k, v in rows.items()} for lang, rows in raw.items()}


def errata_for(lang: str) -> dict[tuple[int, str], list[Erratum]]:
    out: dict[tuple[int, str], list[Erratum]] = {}
    for erratum in load_errata():
        if erratum.lang == lang:
            out.setdefault((erratum.key, erratum.instruction), []).append(erratum)
    return out


def _cell(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, list) else str(value)
    text = text if len(text) <= 60 else text[:57] + "..."
    return "`" + text.replace("|", "\\|").replace("`", "'") + "`"


def render_errata_markdown() -> str:
    """The errata and case-language tables as they appear in the README."""
    lines = [
        "| lang | key | instruction | field | published | corrected | why |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in load_errata():
        lines.append(
            f"| {e.lang} | {e.key} | {e.instruction} | {e.field} | {_cell(e.published)} | {_cell(e.corrected)} | "
            f"{e.reason.replace('|', '/')} |"
        )
    lines += ["", "| lang | prompts answered in English for change_case (keys) |", "|---|---|"]
    for lang, rows in load_case_languages().items():
        by_language: dict[str, list[int]] = {}
        for key, case in rows.items():
            by_language.setdefault(case.language, []).append(key)
        for language, keys in by_language.items():
            lines.append(f"| {lang} → {language} | {len(keys)}: {', '.join(map(str, sorted(keys)))} |")
    return "\n".join(lines)
