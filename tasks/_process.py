"""Python behind the task YAMLs' ``!function`` references (only what YAML can't say)."""

import datasets

# BertaQA's `group` column splits questions into general-knowledge ("global")
# and Basque-culture ("local") items; the same Basque labels are used in the
# eu and en configs.
BERTAQA_GLOBAL = "Gai orokorrak"
BERTAQA_LOCAL = "Euskal gaiak"
BERTAQA_GROUPS = frozenset({BERTAQA_GLOBAL, BERTAQA_LOCAL})


def _bertaqa_subset(dataset: datasets.Dataset, group: str) -> datasets.Dataset:
    unknown = set(dataset.unique("group")) - BERTAQA_GROUPS
    if unknown:
        # A silent filter would report accuracy over a wrong subset.
        raise ValueError(
            f"BertaQA rows carry unknown group labels {sorted(unknown)}; expected {sorted(BERTAQA_GROUPS)}. "
            "The dataset changed upstream: update BERTAQA_GROUPS in lm_eval_iberian/tasks/_process.py."
        )
    return dataset.filter(lambda doc: doc["group"] == group)


def bertaqa_global(dataset: datasets.Dataset) -> datasets.Dataset:
    return _bertaqa_subset(dataset, BERTAQA_GLOBAL)


def bertaqa_local(dataset: datasets.Dataset) -> datasets.Dataset:
    return _bertaqa_subset(dataset, BERTAQA_LOCAL)
