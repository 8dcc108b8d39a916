"""Hand-written responses per language and instruction, with the verdict a careful grader gives.

``cases/<lang>.yaml`` were written for this project in each language; every
instruction has passing and failing responses, plus the language-specific
traps (abbreviations, Basque ordinals, l·l, ¿¡, «», localized postscripts and
constrained answers, answers in the wrong language).
"""

from pathlib import Path

import pytest
import yaml

from lm_eval_iberian.ifeval import INSTRUCTION_IDS, LANGUAGES, IFEvalRecord, score_record
from lm_eval_iberian.ifeval._instructions import parse_args

CASES = Path(__file__).parent / "cases"


def _cases(lang: str) -> list[dict]:
    return yaml.safe_load((CASES / f"{lang}.yaml").read_text(encoding="utf-8"))


ALL = [(lang, i, case) for lang in LANGUAGES for i, case in enumerate(_cases(lang))]


@pytest.mark.parametrize(("lang", "index", "case"), ALL, ids=[f"{lang}-{i}-{c['instruction']}" for lang, i, c in ALL])
def test_case(lang, index, case):
    parse_args(case["instruction"], case["kwargs"])  # the case itself is well-formed
    record = IFEvalRecord(
        key=index,
        prompt=case.get("prompt", ""),
        instruction_id_list=[case["instruction"]],
        kwargs=[case["kwargs"]],
        lang=lang,
        answer_language=case.get("answer_language", lang),
    )
    assert score_record(record, case["response"]).verdicts[0].strict is case["expected"], case["why"]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_instruction_has_passing_and_failing_cases(lang):
    outcomes: dict[str, set[bool]] = {}
    for case in _cases(lang):
        outcomes.setdefault(case["instruction"], set()).add(case["expected"])
    assert {i: o for i, o in outcomes.items() if o != {True, False}} == {}
    assert set(outcomes) == set(INSTRUCTION_IDS)
