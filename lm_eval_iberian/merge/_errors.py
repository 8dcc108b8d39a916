from lm_eval_iberian._errors import UserError


class RecipeError(UserError, ValueError):
    """A merge recipe or model-arg string is invalid; the message names the problem and the fix."""
