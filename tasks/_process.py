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


def parafrases_gl_docs(dataset: datasets.Dataset) -> datasets.Dataset:
    """Cleaning of lm-eval's ``parafrases_gl``, which cannot be imported with transformers 5.

    lm-eval 0.4.13's ``galician_bench/utils.py`` imports ``transformers.data.metrics``
    (removed in transformers 5), so its ``process_docs_paraphrases`` is unusable.
    Same behaviour: drop rows with an empty sentence, detokenize both sentences,
    remove one final ``.``/``,``/``;`` from the first and lower-case the first
    letter of the paraphrase (it follows "verdadeiro? Si, ...").
    """
    from lm_eval.utils import general_detokenize

    def clean(doc: dict) -> dict:
        first = general_detokenize(doc["Frase"]).strip()
        if first.endswith((".", ",", ";")):
            first = first[:-1]
        second = general_detokenize(doc["Paráfrase"]).strip()
        return {**doc, "Frase": first, "Paráfrase": second[:1].lower() + second[1:]}

    return dataset.filter(lambda doc: doc["Frase"] not in (None, "") and doc["Paráfrase"] not in (None, "")).map(clean)
