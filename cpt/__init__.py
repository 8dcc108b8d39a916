"""Continued pre-training of the language experts (installed as ``lm_eval_iberian.cpt``)."""
