"""Continued pre-training of the language experts (installed as ``lm_eval_iberian.cpt``).

Run with ``accelerate launch -m lm_eval_iberian.cpt --config FILE [key=value ...]``,
``torchrun -m lm_eval_iberian.cpt ...`` or ``lm-eval-iberian cpt train --config FILE``.
The final model is a plain Hugging Face folder (``<output_dir>/final``) that
``--model merged`` recipes take as an input.
"""

from lm_eval_iberian.cpt.config import ConfigError, CorpusSource, CPTConfig, DataConfig, OptimConfig, load_config

__all__ = ["CPTConfig", "ConfigError", "CorpusSource", "DataConfig", "OptimConfig", "load_config", "train"]


def train(config: CPTConfig, overwrite: bool = False):  # noqa: ANN201 - lazy import keeps `import lm_eval_iberian.cpt` light
    """Run (or resume) training; returns the final model folder. See :mod:`lm_eval_iberian.cpt.loop`."""
    from lm_eval_iberian.cpt.loop import train as _train

    return _train(config, overwrite=overwrite)
