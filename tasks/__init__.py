"""Task configurations of lm-eval-iberian (installed as ``lm_eval_iberian.tasks``).

One folder per benchmark family, config-only YAML, as in lm-eval. Python used by
the YAMLs through ``!function`` lives in this package's private modules.
"""
