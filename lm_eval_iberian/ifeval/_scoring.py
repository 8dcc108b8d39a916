"""Strict and loose verdicts, the four IFEval metrics, and the lm-eval hooks.

:func:`score_responses` is the public entry point for suites outside lm-eval;
the ``iberian_ifeval_*`` tasks call :func:`process_results` and
:func:`agg_inst_level_acc`, which use the same :func:`score_record`.
"""

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from lm_eval_iberian.ifeval._instructions import DOUBLE_QUOTES, INSTRUCTIONS, CheckContext
from lm_eval_iberian.ifeval._languages import LANGUAGES, profile_for
from lm_eval_iberian.ifeval._records import IFEvalRecord, Protocol, prepare_records

SCHEMA_VERSION = 1


class InstructionVerdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    instruction_id: str
    strict: bool
    loose: bool


class ResponseScore(BaseModel):
    """Verdicts for one response, in the record's instruction order."""

    model_config = ConfigDict(frozen=True)

    key: int
    verdicts: list[InstructionVerdict]

    @property
    def prompt_strict(self) -> bool:
        return all(v.strict for v in self.verdicts)

    @property
    def prompt_loose(self) -> bool:
        return all(v.loose for v in self.verdicts)


class IFEvalScores(BaseModel):
    """The four IFEval metrics plus every verdict, with the settings that produced them."""

    schema_version: int = SCHEMA_VERSION
    lang: str
    protocol: str
    errata: bool
    n_prompts: int
    n_instructions: int
    prompt_level_strict_acc: float
    inst_level_strict_acc: float
    prompt_level_loose_acc: float
    inst_level_loose_acc: float
    responses: list[ResponseScore]


def _loose_variants(response: str) -> list[str]:
    """IFEval's loose retries: without the first/last line, without ``*``."""
    lines = response.split("\n")
    trimmed = [
        response,
        "\n".join(lines[1:]).strip(),
        "\n".join(lines[:-1]).strip(),
        "\n".join(lines[1:-1]).strip(),
    ]
    variants = [trimmed[0], trimmed[0].replace("*", ""), *trimmed[1:], *(t.replace("*", "") for t in trimmed[1:])]
    return list(dict.fromkeys(variants))  # same verdicts, each distinct text checked once


def _args(instruction_id: str, kwargs: dict[str, Any], lenient: bool) -> Any:
    model = INSTRUCTIONS[instruction_id].args
    try:
        return model.model_validate(kwargs)
    except ValidationError:
        if not lenient:
            raise
        return model.model_construct(**kwargs)  # published scoring keeps known defects


def _checker(instruction_id: str, published: bool) -> Any:
    if published:
        from lm_eval_iberian.ifeval._published import PUBLISHED_CHECKS

        if instruction_id in PUBLISHED_CHECKS:
            return PUBLISHED_CHECKS[instruction_id]
    return INSTRUCTIONS[instruction_id].check


def _follows(check: Any, args: Any, ctx: CheckContext, text: str) -> bool:
    # An empty answer follows nothing (lm-eval's rule).
    return bool(text.strip()) and check(text, args, ctx)


def _context(record: IFEvalRecord) -> CheckContext:
    return CheckContext(
        profile=profile_for(record.answer_language if record.answer_language in LANGUAGES else record.lang),
        prompt=record.prompt,
        answer_language=record.answer_language,
        lang=record.lang,
        quote_pairs=DOUBLE_QUOTES if record.quote_marks == "double" else (),
        instruction_ids=tuple(record.instruction_id_list),
    )


def score_record(record: IFEvalRecord, response: str) -> ResponseScore:
    """Strict and loose verdict for every instruction of ``record`` on ``response``.

    A record prepared with ``errata=False`` is scored with the authors'
    published rules (``_published``), every other with the corrected checkers.
    """
    ctx = _context(record)
    variants = _loose_variants(response)
    verdicts = []
    for instruction_id, kwargs in zip(record.instruction_id_list, record.kwargs, strict=True):
        args = _args(instruction_id, kwargs, lenient=not record.errata)
        check = _checker(instruction_id, published=not record.errata)
        strict = _follows(check, args, ctx, response)
        loose = strict or any(_follows(check, args, ctx, v) for v in variants[1:])
        verdicts.append(InstructionVerdict(instruction_id=instruction_id, strict=strict, loose=loose))
    return ResponseScore(key=record.key, verdicts=verdicts)


def _mean(values: list[bool]) -> float:
    return sum(values) / len(values) if values else float("nan")


def score_responses(
    records: Sequence[Mapping[str, Any] | IFEvalRecord],
    responses: Sequence[str] | Mapping[int, str],
    lang: str,
    *,
    protocol: Protocol = "paper",
    errata: bool = True,
) -> IFEvalScores:
    """Score model responses to IFEval prompts in language ``lang``.

    ``records`` are IFEval rows as published (``key``, ``prompt``,
    ``instruction_id_list``, ``kwargs``) or prepared :class:`IFEvalRecord`;
    ``responses`` is a list aligned with them or a ``{key: response}`` map.
    ``protocol="paper"`` leaves out ``language:response_language`` as the paper
    does; ``"full"`` scores it. ``errata=False`` reproduces the published
    scoring. Returns per-instruction verdicts and the four IFEval metrics.
    """
    if isinstance(responses, Mapping):
        by_key = {int(k): v for k, v in responses.items()}
    else:
        if len(responses) != len(records):
            raise ValueError(f"{len(responses)} responses for {len(records)} records; pass one response per record")
        by_key = {}
        for record, response in zip(records, responses, strict=True):
            key = record.key if isinstance(record, IFEvalRecord) else int(record["key"])
            by_key[key] = response
    if all(isinstance(r, IFEvalRecord) for r in records):
        prepared = list(records)  # already prepared (protocol and errata chosen then)
    else:
        prepared = prepare_records([dict(r) for r in records], lang, protocol=protocol, errata=errata)
    missing = [r.key for r in prepared if r.key not in by_key]
    if missing:
        raise ValueError(f"no response for record key(s) {missing[:10]}{' ...' if len(missing) > 10 else ''}")
    for response in by_key.values():
        if not isinstance(response, str):
            raise TypeError(f"responses must be strings, got {type(response).__name__}")
    scored = [score_record(r, by_key[r.key]) for r in prepared]
    strict = [v.strict for s in scored for v in s.verdicts]
    loose = [v.loose for s in scored for v in s.verdicts]
    return IFEvalScores(
        lang=lang,
        protocol=protocol,
        errata=errata,
        n_prompts=len(scored),
        n_instructions=len(strict),
        prompt_level_strict_acc=_mean([s.prompt_strict for s in scored]),
        inst_level_strict_acc=_mean(strict),
        prompt_level_loose_acc=_mean([s.prompt_loose for s in scored]),
        inst_level_loose_acc=_mean(loose),
        responses=scored,
    )


# --- lm-eval hooks ---------------------------------------------------------------


def record_from_doc(doc: Mapping[str, Any]) -> IFEvalRecord:
    """The prepared record a task document carries (see ``_dataset``)."""
    return IFEvalRecord(
        key=doc["key"],
        prompt=doc["prompt"],
        instruction_id_list=list(doc["instruction_id_list"]),
        kwargs=json.loads(doc["kwargs"]),
        lang=doc["iberian_lang"],
        answer_language=doc["answer_language"],
        quote_marks=doc["quote_marks"],
        errata=doc["errata"],
        applied_errata=list(doc["applied_errata"]),
    )


def process_results(doc: Mapping[str, Any], results: list[str]) -> dict[str, Any]:
    """lm-eval ``process_results`` for the ``iberian_ifeval_*`` tasks."""
    score = score_record(record_from_doc(doc), results[0])
    return {
        "prompt_level_strict_acc": score.prompt_strict,
        "inst_level_strict_acc": [v.strict for v in score.verdicts],
        "prompt_level_loose_acc": score.prompt_loose,
        "inst_level_loose_acc": [v.loose for v in score.verdicts],
    }


def agg_inst_level_acc(items: list[list[bool]]) -> float:
    """Instruction-level accuracy: every instruction of every prompt counts once."""
    flat = [verdict for per_prompt in items for verdict in per_prompt]
    return sum(flat) / len(flat) if flat else float("nan")
