"""The paper's merge recipes as mergekit YAML (installed as ``lm_eval_iberian.merge_models``)."""
