"""Multilingual IFEval (en, es, ca, eu, gl) with language-aware checkers.

Score generations outside lm-eval::

    from lm_eval_iberian.ifeval import score_responses

    scores = score_responses(records, responses, "eu")   # records: IFEval rows as published
    scores.inst_level_strict_acc, scores.responses[0].verdicts

The ``iberian_ifeval_*`` lm-eval tasks call the same code through
:func:`load_ifeval_dataset`, :func:`process_results` and
:func:`agg_inst_level_acc`.
"""

from lm_eval_iberian.ifeval._dataset import load_ifeval_dataset
from lm_eval_iberian.ifeval._errata import (
    AnswerLanguage,
    Erratum,
    QuoteMarks,
    load_answer_languages,
    load_errata,
    load_quote_marks,
)
from lm_eval_iberian.ifeval._instructions import INSTRUCTION_IDS
from lm_eval_iberian.ifeval._languages import LANGUAGES, PROFILES, LanguageProfile
from lm_eval_iberian.ifeval._records import PROTOCOLS, IFEvalDataError, IFEvalRecord, prepare_records
from lm_eval_iberian.ifeval._scoring import (
    IFEvalScores,
    InstructionVerdict,
    ResponseScore,
    agg_inst_level_acc,
    process_results,
    score_record,
    score_responses,
)
from lm_eval_iberian.ifeval._text import count_sentences, count_words, detect_language, split_sentences, split_words

__all__ = [
    "INSTRUCTION_IDS",
    "LANGUAGES",
    "PROFILES",
    "PROTOCOLS",
    "QuoteMarks",
    "AnswerLanguage",
    "Erratum",
    "IFEvalDataError",
    "IFEvalRecord",
    "IFEvalScores",
    "InstructionVerdict",
    "LanguageProfile",
    "ResponseScore",
    "agg_inst_level_acc",
    "count_sentences",
    "count_words",
    "detect_language",
    "load_answer_languages",
    "load_errata",
    "load_ifeval_dataset",
    "load_quote_marks",
    "prepare_records",
    "process_results",
    "score_record",
    "score_responses",
    "split_sentences",
    "split_words",
]
