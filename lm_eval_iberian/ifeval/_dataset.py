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
from lm_eval_iberian.ifeval._records import prepare_records

LANG_KEY = "iberian_ifeval_lang"
PROTOCOL_KEY = "iberian_ifeval_protocol"
ERRATA_METADATA_KEY = "ifeval_errata"


def _flag(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false", "1", "0"}:
        return value.lower() in {"true", "1"}
    raise ValueError(f"metadata {name} must be true or false, got {value!r}")


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
