"""What each dataset the tasks read must look like, row by row.

The checks are the ones the task YAMLs rely on (field present, type, answer
in range), so a file imported with ``data add`` or fetched with ``data pull``
fails here with a row number instead of failing later inside lm-eval.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lm_eval_iberian._errors import UsageError

Row = dict[str, Any]
RowCheck = Callable[[Row], str | None]


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_str_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _is_choices(v: Any) -> bool:
    return (
        isinstance(v, dict)
        and _is_str_list(v.get("text"))
        and _is_str_list(v.get("label"))
        and len(v["text"]) == len(v["label"])
    )


def _is_object_list(v: Any) -> bool:
    # IFEval kwargs: a list of objects, or that list as JSON text (as some mirrors store it).
    if isinstance(v, str):
        import json

        try:
            v = json.loads(v)
        except ValueError:
            return False
    return isinstance(v, list) and all(isinstance(x, dict) for x in v)


def _is_optional_str(v: Any) -> bool:
    return v is None or isinstance(v, str)


_TYPES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "str": (_is_str, "a string"),
    "str?": (_is_optional_str, "a string or null"),
    "int": (_is_int, "an integer"),
    "list[str]": (_is_str_list, "a list of strings"),
    "list[object]": (_is_object_list, "a list of objects (or that list as JSON text)"),
    "choices": (_is_choices, 'an object {"text": [...], "label": [...]} of equal-length string lists'),
}


@dataclass(frozen=True)
class PinnedFile:
    """A dataset published as a file outside the hub, pinned to a commit and a hash."""

    url: str
    sha256: str
    origin: str


@dataclass(frozen=True)
class DatasetSchema:
    """Required fields (name -> type name in ``_TYPES``) plus whole-row checks.

    ``pinned`` maps a config to the one file ``data pull`` downloads for it,
    for datasets that are not on the hub.
    """

    dataset: str
    fields: dict[str, str]
    checks: tuple[RowCheck, ...] = field(default_factory=tuple)
    access: str = "public"
    pinned: dict[str, PinnedFile] = field(default_factory=dict)

    def row_problems(self, row: Row) -> list[str]:
        problems = []
        for name, type_name in self.fields.items():
            if name not in row:
                problems.append(f"missing field {name!r}")
                continue
            ok, wanted = _TYPES[type_name]
            if not ok(row[name]):
                problems.append(f"field {name!r} must be {wanted}, got {type(row[name]).__name__} {row[name]!r:.60}")
        if not problems:
            problems.extend(p for check in self.checks if (p := check(row)))
        return problems


def _answer_indexes_candidates(row: Row) -> str | None:
    if not 0 <= row["answer"] < len(row["candidates"]):
        return f"answer {row['answer']} is not an index into the {len(row['candidates'])} candidates"
    if len(row["candidates"]) < 2:
        return "needs at least 2 candidates"
    return None


def _belebele_answer(row: Row) -> str | None:
    if row["correct_answer_num"] not in {"1", "2", "3", "4"}:
        return f"correct_answer_num must be one of '1'..'4' (a string), got {row['correct_answer_num']!r}"
    return None


def _ending(key: str) -> RowCheck:
    def check(row: Row) -> str | None:
        return None if row[key] in (1, 2) else f"{key} must be 1 or 2, got {row[key]!r}"

    return check


def _binary(key: str) -> RowCheck:
    def check(row: Row) -> str | None:
        return None if row[key] in (0, 1) else f"{key} must be 0 or 1, got {row[key]!r}"

    return check


def _answer_key_in_labels(row: Row) -> str | None:
    if row["answerKey"].strip() not in row["choices"]["label"]:
        return f"answerKey {row['answerKey']!r} is not one of the choice labels {row['choices']['label']}"
    return None


def _bertaqa_group(row: Row) -> str | None:
    from lm_eval_iberian.tasks._process import BERTAQA_GROUPS

    if row["group"] not in BERTAQA_GROUPS:
        return f"group {row['group']!r} is not one of {sorted(BERTAQA_GROUPS)}"
    return None


_EUS_MC = {"question": "str", "candidates": "list[str]", "answer": "int"}
_BELEBELE = {
    "flores_passage": "str",
    "question": "str",
    "mc_answer1": "str",
    "mc_answer2": "str",
    "mc_answer3": "str",
    "mc_answer4": "str",
    "correct_answer_num": "str",
}
_XSTORY = {
    **{f"input_sentence_{i}": "str" for i in range(1, 5)},
    "sentence_quiz1": "str",
    "sentence_quiz2": "str",
    "answer_right_ending": "int",
}
_OBQA = {"question_stem": "str", "choices": "choices", "answerKey": "str"}
_COLA_UPPER = {"Sentence": "str", "Label": "int"}
_FLORES_PLUS_GATED = (
    "gated: accept the FLORES+ terms on its hub page (CC BY-SA 4.0) and log in "
    "(`hf auth login` or HF_TOKEN) before `lm-eval-iberian data pull`"
)

_IFEVAL = {"key": "int", "prompt": "str", "instruction_id_list": "list[str]", "kwargs": "list[object]"}


def _ifeval_lengths(row: Row) -> str | None:
    kwargs = row["kwargs"]
    if isinstance(kwargs, str):
        import json

        kwargs = json.loads(kwargs)
    if len(kwargs) != len(row["instruction_id_list"]):
        return f"{len(row['instruction_id_list'])} instruction ids but {len(kwargs)} kwargs objects"
    return None


# Basque and Galician IFEval exist only as the authors' files on GitHub.
_IBER_IFEVAL_COMMITS = {
    "eu": ("d361488de6ff5ba7c12f4a130cede18492856bef", "a437fdae2f92a749a125998bd727289420f2908b7729e96337b09df62ef555cf"),
    "gl": ("174eaedf565dd8501c409db6b00c615ea25a51e7", "ea6768803ef42328308f30a6c74d5655dad16a636b2a60c6a884fab694f185a7"),
}
_IBER_IFEVAL = {
    lang: PinnedFile(
        url=f"https://raw.githubusercontent.com/eneko98/Iber-IFEval/{commit}/data/input_data.{lang}.jsonl",
        sha256=sha,
        origin=f"github:eneko98/Iber-IFEval@{commit}:data/input_data.{lang}.jsonl",
    )
    for lang, (commit, sha) in _IBER_IFEVAL_COMMITS.items()
}
_IBER_IFEVAL_ACCESS = (
    "not on the hub: `data pull` downloads the authors' GitHub files pinned to a commit and checks their "
    "sha256; the repository states no license, so check its terms before redistributing"
)

_SCHEMAS = [
    DatasetSchema("HiTZ/EusProficiency", _EUS_MC, (_answer_indexes_candidates,)),
    DatasetSchema("HiTZ/EusReading", {"context": "str", **_EUS_MC}, (_answer_indexes_candidates,)),
    DatasetSchema("HiTZ/EusTrivia", _EUS_MC, (_answer_indexes_candidates,)),
    DatasetSchema("HiTZ/EusExams", _EUS_MC),  # invalid rows exist upstream; the task filters them
    DatasetSchema("HiTZ/BertaQA", {**_EUS_MC, "group": "str"}, (_answer_indexes_candidates, _bertaqa_group)),
    DatasetSchema("facebook/belebele", _BELEBELE, (_belebele_answer,)),
    DatasetSchema("proxectonos/belebele_gl", _BELEBELE, (_belebele_answer,)),
    DatasetSchema("juletxara/xstory_cloze", _XSTORY, (_ending("answer_right_ending"),)),
    DatasetSchema("projecte-aina/xstorycloze_ca", _XSTORY, (_ending("answer_right_ending"),)),
    DatasetSchema(
        "proxectonos/xstorycloze_gl",
        {
            **{f"InputSentence{i}": "str" for i in range(1, 5)},
            "RandomFifthSentenceQuiz1": "str",
            "RandomFifthSentenceQuiz2": "str",
            "AnswerRightEnding": "int",
        },
        (_ending("AnswerRightEnding"),),
    ),
    DatasetSchema("proxectonos/galcola", {"sentence": "str", "label": "int"}, (_binary("label"),)),
    DatasetSchema("nbel/CatCoLA", _COLA_UPPER, (_binary("Label"),)),
    DatasetSchema("nbel/EsCoLA", _COLA_UPPER, (_binary("Label"),)),
    DatasetSchema("proxectonos/openbookqa_gl", _OBQA, (_answer_key_in_labels,)),
    DatasetSchema("projecte-aina/openbookqa_ca", _OBQA, (_answer_key_in_labels,)),
    DatasetSchema("BSC-LT/openbookqa-es", _OBQA, (_answer_key_in_labels,)),
    DatasetSchema("allenai/openbookqa", _OBQA, (_answer_key_in_labels,)),
    # Empty sentences exist upstream; lm-eval's process_docs drops them.
    DatasetSchema("proxectonos/parafrases_gl", {"Frase": "str?", "Paráfrase": "str?", "Avaliación": "int"}),
    DatasetSchema("google/IFEval", _IFEVAL, (_ifeval_lengths,)),
    DatasetSchema("BSC-LT/IFEval_es", _IFEVAL, (_ifeval_lengths,)),
    DatasetSchema("projecte-aina/IFEval_ca", _IFEVAL, (_ifeval_lengths,)),
    DatasetSchema(
        "eneko98/Iber-IFEval", _IFEVAL, (_ifeval_lengths,), access=_IBER_IFEVAL_ACCESS, pinned=_IBER_IFEVAL
    ),
    DatasetSchema("openlanguagedata/flores_plus", {"id": "int", "text": "str"}, access=_FLORES_PLUS_GATED),
]

SCHEMAS: dict[str, DatasetSchema] = {s.dataset: s for s in _SCHEMAS}


def schema_for(dataset: str) -> DatasetSchema:
    try:
        return SCHEMAS[dataset]
    except KeyError:
        raise UsageError(
            f"no iberian_* task reads dataset {dataset!r}; known datasets: {', '.join(sorted(SCHEMAS))}"
        ) from None
