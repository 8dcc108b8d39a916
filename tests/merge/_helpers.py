"""Helpers shared by the merge tests."""

import pytest

from lm_eval_iberian.merge import RecipeError


def fail_model_args(arg_string: str, *fragments: str) -> str:
    """Expect a RecipeError through lm-eval's own entry point, as `lm_eval --model merged --model_args ...` does;
    every fragment must be in the message. Returns the message."""
    from lm_eval.api.registry import get_model

    with pytest.raises(RecipeError) as err:
        get_model("merged").create_from_arg_string(arg_string, {"device": "cpu"})
    message = str(err.value)
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message
