"""The ``custom_dataset`` the ``iberian_ifeval_*`` YAMLs call.

Reads the published rows through the offline mirror (``lm_eval_iberian.data``),
prepares them (``_records``: errata, validation, protocol) and hands lm-eval
one document per prompt. ``kwargs`` travel as JSON text: Arrow would otherwise
merge every instruction's kwargs into one struct full of nulls.

The errata switch is lm-eval task metadata, so it reaches this function:
``lm_eval ... --metadata '{"ifeval_errata": false}'``.
"""

import json
from typing import Any

import datasets

from lm_eval_iberian.data._catalog import CONFIGS_KEY, SOURCE_KEY, SPLITS_KEY, SplitRef
from lm_eval_iberian.data._loader import read_rows
from lm_eval_iberian.ifeval._records import IFEvalDataError, prepare_records

LANG_KEY = "iberian_ifeval_lang"
PROTOCOL_KEY = "iberian_ifeval_protocol"
ERRATA_METADATA_KEY = "ifeval_errata"


def _flag(value: Any, name: str) -> bool:
    """lm-eval metadata booleans through the project's one strict parser (``--metadata '{"ifeval_errata": "no"}'``)."""
    from lm_eval_iberian._errors import UsageError
    from lm_eval_iberian._parsing import parse_bool

    try:
        return parse_bool(value, f"metadata {name}")
    except UsageError as exc:
        raise IFEvalDataError(str(exc)) from None


def load_ifeval_dataset(**kwargs: Any) -> datasets.DatasetDict:
    """IFEval prompts of one language, errata applied unless ``ifeval_errata`` is false."""
    source, configs, splits = kwargs[SOURCE_KEY], kwargs[CONFIGS_KEY], kwargs[SPLITS_KEY]
    lang, protocol = kwargs[LANG_KEY], kwargs.get(PROTOCOL_KEY, "paper")
    errata = _flag(kwargs.get(ERRATA_METADATA_KEY, True), ERRATA_METADATA_KEY)
    out = {}
    for split in splits:
        rows = read_rows(SplitRef(source, configs[0], split))
        records = prepare_records(rows, lang, protocol=protocol, errata=errata)
        out[split] = datasets.Dataset.from_list(
            [
                {
                    "key": r.key,
                    "prompt": r.prompt,
                    "instruction_id_list": r.instruction_id_list,
                    "kwargs": json.dumps(r.kwargs, ensure_ascii=False),
                    "iberian_lang": r.lang,
                    "answer_language": r.answer_language,
                    "quote_marks": r.quote_marks,
                    "errata": r.errata,
                    "applied_errata": r.applied_errata,
                }
                for r in records
            ]
        )
    return datasets.DatasetDict(out)
