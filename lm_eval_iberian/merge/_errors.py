class RecipeError(ValueError):
    """A merge recipe or model-arg string is invalid; the message names the problem and the fix."""
