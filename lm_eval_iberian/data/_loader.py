"""The ``custom_dataset`` functions the task YAMLs call.

lm-eval 0.4.13 calls ``custom_dataset(**metadata, **dataset_kwargs)`` where
``metadata`` also carries the model arguments, so every loader takes
``**_ignored``. The YAML's ``dataset_kwargs`` name the source::

    dataset_kwargs:
      iberian_source: HiTZ/EusTrivia    # hub dataset id (same as dataset_path)
      iberian_configs: [default]        # configs; 'default' = no named config
      iberian_splits: [test]            # every split the task reads

With ``IBERIAN_DATA_DIR`` set the rows come from that mirror and nothing else;
otherwise from the hub through ``datasets.load_dataset``.
"""

import os
from typing import Any

import datasets

from lm_eval_iberian._logs import install_task_log_filter
from lm_eval_iberian._parsing import env_flag
from lm_eval_iberian.data._catalog import CONFIGS_KEY, SOURCE_KEY, SPLITS_KEY, SplitRef
from lm_eval_iberian.data._mirror import DATA_DIR_ENV, MirrorError, read_split

_OFFLINE_VARS = ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE")
install_task_log_filter()  # also where lm-eval is used without the start-up hook (LM_EVAL_IBERIAN_AUTOLOAD=0)


def read_rows(ref: SplitRef) -> list[dict[str, Any]]:
    """Rows of one split: from the mirror when ``IBERIAN_DATA_DIR`` is set, else from the hub."""
    root = os.environ.get(DATA_DIR_ENV)
    if root:
        if not os.path.isdir(root):
            raise MirrorError(
                f"{DATA_DIR_ENV}={root} is not a folder; create it with "
                f"`lm-eval-iberian data pull --dest {root}` or unset {DATA_DIR_ENV} to read from the hub"
            )
        return read_split(root, ref)
    name = None if ref.config == "default" else ref.config
    try:
        return datasets.load_dataset(ref.dataset, name, split=ref.split).to_list()
    except Exception as exc:  # datasets raises many types when the hub cannot be reached
        offline = [v for v in _OFFLINE_VARS if env_flag(v)]
        if not offline and not isinstance(exc, ConnectionError | OSError):
            raise
        why = f"{' and '.join(f'{v}=1' for v in offline)} {'is' if len(offline) == 1 else 'are'} set" if offline else f"the hub cannot be reached ({exc})"
        raise MirrorError(
            f"{ref} cannot be read: {DATA_DIR_ENV} is not set, so the tasks read the Hugging Face hub, and {why}. "
            f"Point {DATA_DIR_ENV} at a mirror: `export {DATA_DIR_ENV}=DIR` after `lm-eval-iberian data pull --dest DIR` "
            f"on a machine with internet, or, to try the tasks on the demo data, "
            f"`export {DATA_DIR_ENV}=$(lm-eval-iberian data demo-path)`"
        ) from exc


def _dataset(rows: list[dict[str, Any]]) -> datasets.Dataset:
    return datasets.Dataset.from_list(rows)


def load_task_dataset(**kwargs: Any) -> datasets.DatasetDict:
    """Rows of a dataset, one ``Dataset`` per split the task reads.

    With several configs the rows are concatenated in the listed order and each
    row gets an ``iberian_config`` column naming the config it came from.
    """
    source, configs, splits = kwargs[SOURCE_KEY], kwargs[CONFIGS_KEY], kwargs[SPLITS_KEY]
    if len(configs) == 1:
        return datasets.DatasetDict({split: _dataset(read_rows(SplitRef(source, configs[0], split))) for split in splits})
    return datasets.DatasetDict(
        {
            split: _dataset(
                [{**row, "iberian_config": config} for config in configs for row in read_rows(SplitRef(source, config, split))]
            )
            for split in splits
        }
    )


def load_flores_pair(**kwargs: Any) -> datasets.DatasetDict:
    """Join two FLORES+ language configs on ``id`` into ``sentence_<code>`` columns.

    FLORES+ stores one language per config; lm-eval's Flores prompts expect the
    old ``facebook/flores`` layout with one ``sentence_<code>`` column per language.
    """
    source, (src, tgt), splits = kwargs[SOURCE_KEY], kwargs[CONFIGS_KEY], kwargs[SPLITS_KEY]
    out = {}
    for split in splits:
        by_lang = {code: {row["id"]: row["text"] for row in read_rows(SplitRef(source, code, split))} for code in (src, tgt)}
        ids = sorted(by_lang[src])
        missing = sorted(set(ids) ^ set(by_lang[tgt]))
        if missing:
            raise MirrorError(
                f"{source} {split}: {src} and {tgt} are not parallel (ids only on one side: {missing[:10]})"
            )
        out[split] = _dataset(
            [{"id": i, f"sentence_{src}": by_lang[src][i], f"sentence_{tgt}": by_lang[tgt][i]} for i in ids]
        )
    return datasets.DatasetDict(out)
