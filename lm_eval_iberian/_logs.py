"""Log messages the plugin causes that say nothing to its users, filtered where they are emitted.

Each filter drops one exact message, and only in the situation the plugin creates; lm-eval's other messages
(and these same messages about other tasks or models) pass untouched.
"""

import contextlib
import logging
from collections.abc import Iterator

__all__ = ["install_task_log_filter", "quiet_in_memory_hflm", "quiet_torch_dtype_deprecation"]


class _Drop(logging.Filter):
    def __init__(self, *fragments: str, prefix: str = "") -> None:
        super().__init__()
        self.fragments, self.prefix = fragments, prefix

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith(self.prefix) and all(f in message for f in self.fragments))


# lm-eval warns once per task that reads `custom_dataset` (every iberian_* task: 174 lines in the demo) that custom
# kwargs exist; our loaders take none.
_CUSTOM_KWARGS = _Drop("Custom kwargs can be passed to `--metadata`", prefix="iberian_")


# Tasks configured as lm-eval's own built-ins (few-shot examples from the training split by lm-eval's rule, no explicit
# fewshot_split: naming the split changes lm-eval's sampling order, and the parity tests compare sample by sample)
# would be warned about once per task.
_FEWSHOT_RULE = _Drop("num_fewshot > 0 but fewshot_split is None", prefix="[Task: iberian_")
# lm-eval guesses "instruct model without a chat template" from words in the model args; for a merge (no
# pretrained=) it prints "pretrained=None appears to be an instruct ...", naming no model.
_PRETRAINED_NONE = _Drop("appears to be an", prefix="pretrained=None")


def install_task_log_filter() -> None:
    for name, drop in (("lm_eval.api.task", _CUSTOM_KWARGS), ("lm_eval.api.task", _FEWSHOT_RULE),
                       ("lm_eval.evaluator", _PRETRAINED_NONE)):
        logger = logging.getLogger(name)
        if drop not in logger.filters:
            logger.addFilter(drop)


@contextlib.contextmanager
def _filtered(logger_name: str, *filters: logging.Filter) -> Iterator[None]:
    logger = logging.getLogger(logger_name)
    for f in filters:
        logger.addFilter(f)
    try:
        yield
    finally:
        for f in filters:
            logger.removeFilter(f)


def quiet_in_memory_hflm() -> contextlib.AbstractContextManager[None]:
    """HFLM warns that a model object is not a path and that it assumes a single process: both are our design."""
    return _filtered(
        "lm_eval.models.huggingface",
        _Drop("`pretrained` model kwarg is not of type `str`"),
        _Drop("Passed an already-initialized model through `pretrained`"),
    )


def quiet_torch_dtype_deprecation() -> contextlib.AbstractContextManager[None]:
    """mergekit 0.1.5 sets ``config.torch_dtype``, which transformers 5 reports as deprecated."""
    return _filtered("transformers.configuration_utils", _Drop("`torch_dtype` is deprecated"))
