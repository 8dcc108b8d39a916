"""IFEval records: normalise the published rows, apply errata, validate.

Rows come as the datasets publish them (``key``, ``prompt``,
``instruction_id_list``, ``kwargs``). Normalising removes what differs between
the sources but means nothing: the ``es:``/``ca:`` id prefixes of
BSC-LT/IFEval_es and projecte-aina/IFEval_ca, the ``null`` kwargs that Arrow
adds when a dataset is stored as parquet, and kwargs stored as JSON text.
Then every instruction's kwargs are validated against its schema, so a defect
fails when the data load, naming the record, before any generation.
"""

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from lm_eval_iberian._errors import UserError
from lm_eval_iberian.ifeval._errata import Erratum, errata_for, load_answer_languages, load_quote_marks
from lm_eval_iberian.ifeval._instructions import INSTRUCTIONS, parse_args
from lm_eval_iberian.ifeval._languages import profile_for

Protocol = Literal["paper", "full"]
QuoteMarksChoice = Literal["language", "double"]
PROTOCOLS: tuple[str, ...] = ("paper", "full")
# The paper leaves response_language out (its checker could not tell eu or gl).
PAPER_EXCLUDED = frozenset({"language:response_language"})

_ID_PREFIX = re.compile(r"^[a-z]{2}:(?=[a-z_]+:)")


class IFEvalDataError(UserError, ValueError):
    """A record that cannot be scored; the message names the record and the fix."""


class IFEvalRecord(BaseModel):
    """One prompt, ready to score: normalised, errata applied, kwargs validated."""

    model_config = ConfigDict(frozen=True)

    key: int
    prompt: str
    instruction_id_list: list[str]
    kwargs: list[dict[str, Any]]
    lang: str
    # The language the answer must be written in (data/answer_language.yaml): the
    # language every language-dependent tool of the checkers uses.
    answer_language: str
    # Quotation marks that count around the whole answer: the answer language's
    # ("language") or only double quotes (data/quote_marks.yaml).
    quote_marks: QuoteMarksChoice = "language"
    errata: bool = True
    applied_errata: list[str] = []


def _normalise_kwargs(raw: Any, key: Any) -> list[dict[str, Any]]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise IFEvalDataError(f"record {key}: kwargs is text but not JSON ({exc})") from None
    if not isinstance(raw, list) or not all(isinstance(k, dict) for k in raw):
        raise IFEvalDataError(f"record {key}: kwargs must be a list of objects, got {type(raw).__name__}")
    return [{name: value for name, value in k.items() if value is not None} for k in raw]


_FIELDS = ("key", "prompt", "instruction_id_list", "kwargs")


def _integer_key(value: Any, where: str) -> int:
    """The record key as an int: ints and digit strings ("12"); never a float, a bool or other text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise IFEvalDataError(
        f"{where}: key must be an integer, got {value!r} ({type(value).__name__}); "
        "give every row an integer key (as IFEval's files do, e.g. \"key\": 1000)"
    )


def normalise_row(row: Any, position: int | None = None) -> dict[str, Any]:
    """The four IFEval fields with id prefixes, nulls and JSON text removed.

    ``position`` (1-based) names the row in errors when its key cannot.
    """
    where = f"IFEval row {position}" if position is not None else "IFEval row"
    if not isinstance(row, dict):
        raise IFEvalDataError(
            f"{where}: expected an object with fields {', '.join(_FIELDS)}, got {type(row).__name__}; "
            "each line of an IFEval file is one JSON object"
        )
    missing = [f for f in _FIELDS if f not in row]
    if missing:
        shown = f" (key {row['key']!r})" if "key" in row else ""
        raise IFEvalDataError(f"{where}{shown}: missing field(s) {missing}; every row needs {', '.join(_FIELDS)}")
    key = _integer_key(row["key"], where)
    ids = row["instruction_id_list"]
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise IFEvalDataError(f"record {key}: instruction_id_list must be a list of strings")
    ids = [_ID_PREFIX.sub("", i) for i in ids]
    kwargs = _normalise_kwargs(row["kwargs"], key)
    if len(kwargs) != len(ids):
        raise IFEvalDataError(f"record {key}: {len(ids)} instruction ids but {len(kwargs)} kwargs objects")
    if not isinstance(row["prompt"], str):
        raise IFEvalDataError(f"record {key}: prompt must be text, got {type(row['prompt']).__name__}")
    return {"key": key, "prompt": row["prompt"], "instruction_id_list": ids, "kwargs": kwargs}


def _apply_errata(row: dict[str, Any], lang: str) -> list[str]:
    applied = []
    table = errata_for(lang)
    for index, instruction_id in enumerate(list(row["instruction_id_list"])):
        for erratum in table.get((row["key"], instruction_id), []):
            if _apply_one(row, index, erratum):
                applied.append(f"{erratum.instruction}.{erratum.field}")
    return applied


def _apply_one(row: dict[str, Any], index: int, erratum: Erratum) -> bool:
    if erratum.field == "instruction_id":
        if row["instruction_id_list"][index] != erratum.published:
            return False
        row["instruction_id_list"][index] = erratum.corrected
        return True
    if row["kwargs"][index].get(erratum.field) != erratum.published:
        return False  # the source changed since the erratum was written: leave it
    row["kwargs"][index] = {**row["kwargs"][index], erratum.field: erratum.corrected}
    return True


def _published_kwargs(instruction_id: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The published scoring passes a string where a list is expected to the checker.

    The authors' checkers then iterate over its characters; so does this.
    """
    fields = INSTRUCTIONS[instruction_id].args.model_fields
    out = dict(kwargs)
    for name, value in kwargs.items():
        if name in fields and isinstance(value, str) and "list" in str(fields[name].annotation):
            out[name] = list(value)
    return out


def validate_kwargs(row: dict[str, Any]) -> list[tuple[str, str]]:
    """Every problem with the record's instructions, as ``(instruction id, problem)``."""
    problems = []
    for instruction_id, kwargs in zip(row["instruction_id_list"], row["kwargs"], strict=True):
        if instruction_id not in INSTRUCTIONS:
            known = ", ".join(INSTRUCTIONS)
            problems.append((instruction_id, f"unknown instruction {instruction_id!r}; known: {known}"))
            continue
        try:
            parse_args(instruction_id, kwargs)
        except ValidationError as exc:
            details = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'kwargs'}: {e['msg']}" for e in exc.errors())
            shown = json.dumps(kwargs, ensure_ascii=False)[:160]
            problems.append((instruction_id, f"{instruction_id}: {details} (kwargs {shown})"))
    return problems


def prepare_records(
    rows: list[dict[str, Any]],
    lang: str,
    *,
    protocol: Protocol = "paper",
    errata: bool = True,
) -> list[IFEvalRecord]:
    """Normalise, correct and validate published IFEval rows of language ``lang``.

    ``protocol="paper"`` drops ``language:response_language`` (and the prompts
    that had only that instruction); ``"full"`` keeps it. ``errata=False``
    reproduces the published scoring: kwargs as published, every answer
    expected in the file's language, and the authors' checker rules
    (``_published``), whose tools are checked here, before any scoring. Raises
    :class:`IFEvalDataError` listing every record that cannot be scored.
    """
    profile_for(lang)
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown IFEval protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    if not errata:
        from lm_eval_iberian.ifeval._published import require_published_tools

        require_published_tools()
    answer_languages = load_answer_languages().get(lang, {}) if errata else {}
    quote_marks = load_quote_marks().get(lang, {}) if errata else {}
    records, problems, seen = [], [], set()
    for position, raw in enumerate(rows, start=1):
        row = normalise_row(raw, position)
        if row["key"] in seen:
            problems.append(f"record {row['key']}: duplicate key")
            continue
        seen.add(row["key"])
        applied = _apply_errata(row, lang) if errata else []
        if not errata:
            row["kwargs"] = [
                _published_kwargs(i, k) if i in INSTRUCTIONS else k
                for i, k in zip(row["instruction_id_list"], row["kwargs"], strict=True)
            ]
        found = validate_kwargs(row)
        if not errata:
            # Published scoring: a defect the errata table documents is kept as
            # published and reaches the checker unvalidated, as upstream.
            known = {i for k, i in errata_for(lang) if k == row["key"]}
            found = [(i, p) for i, p in found if i not in known]
        problems.extend(f"record {row['key']}: {p}" for _, p in found)
        if protocol == "paper":
            kept = [
                (i, k)
                for i, k in zip(row["instruction_id_list"], row["kwargs"], strict=True)
                if i not in PAPER_EXCLUDED
            ]
            if not kept:
                continue
            row["instruction_id_list"], row["kwargs"] = [i for i, _ in kept], [k for _, k in kept]
        answer = answer_languages.get(row["key"])
        quotes = quote_marks.get(row["key"])
        records.append(
            IFEvalRecord(
                **row,
                lang=lang,
                answer_language=answer.language if answer else lang,
                quote_marks=quotes.marks if quotes else "language",
                errata=errata,
                applied_errata=applied,
            )
        )
    if problems:
        shown = "\n  ".join(problems[:20]) + (f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else "")
        raise IFEvalDataError(
            f"{len(problems)} IFEval ({lang}) record problem(s):\n  {shown}\n"
            "Fix the source file or add an erratum to lm_eval_iberian/ifeval/data/errata.yaml."
        )
    return records
