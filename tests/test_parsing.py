"""Strict parsers and the inline recipe grammar: random input never raises anything but the documented error type."""

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lm_eval_iberian._errors import UsageError
from lm_eval_iberian._parsing import BOOL_SPELLINGS, parse_bool, parse_float, parse_float_list, parse_int, parse_seed
from lm_eval_iberian.merge import MergeRecipe, RecipeError, check_recipe_structure

# Text a user might type: printable characters plus the grammar's own punctuation, and odd unicode.
TYPED = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40) | st.sampled_from(
    ["true", "YES", "Off", "1", "0", "2", "-1", "1.5", "1e999", "nan", "inf", "-inf", "", " ", "0x10", "١", "True ", "none"]
)
VALUES = TYPED | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.booleans() | st.none() | st.lists(st.integers(), max_size=2)


@settings(deadline=None)  # the first example pays for imports
@given(VALUES)
def test_parse_bool_accepts_only_the_documented_spellings(value):
    try:
        result = parse_bool(value, "flag")
    except UsageError as exc:
        assert "flag=" in str(exc) and BOOL_SPELLINGS in str(exc)
        return
    assert isinstance(result, bool)
    if isinstance(value, str):
        assert value.strip().lower() in {"true", "false", "1", "0", "yes", "no", "on", "off"}
    else:
        assert value in (True, False, 0, 1)


@pytest.mark.parametrize(("text", "expected"), [("yes", True), ("NO", False), (" on ", True), ("0", False), (1, True)])
def test_parse_bool_spellings(text, expected):
    assert parse_bool(text, "x") is expected


@settings(deadline=None)  # the first example pays for imports
@given(VALUES, st.one_of(st.none(), st.integers(-5, 5)), st.one_of(st.none(), st.integers(-5, 5)))
def test_parse_int_is_an_integer_in_range_or_a_usage_error(value, low, high):
    try:
        result = parse_int(value, "n", low, high)
    except UsageError as exc:
        assert str(exc).startswith("n=")
        return
    assert isinstance(result, int) and not isinstance(result, bool)
    assert (low is None or result >= low) and (high is None or result <= high)


@settings(deadline=None)  # the first example pays for imports
@given(VALUES)
def test_parse_seed_gives_a_seed_numpy_accepts(value):
    import numpy as np

    try:
        seed = parse_seed(value)
    except UsageError as exc:
        assert "seed=" in str(exc)
        return
    np.random.default_rng(seed)
    np.random.seed(seed)


@settings(deadline=None)  # the first example pays for imports
@given(VALUES)
def test_parse_float_is_finite_or_a_usage_error(value):
    try:
        result = parse_float(value, "w", minimum=-10, maximum=10)
    except UsageError:
        return
    assert math.isfinite(result) and -10 <= result <= 10


@settings(deadline=None)  # the first example pays for imports
@given(st.lists(TYPED | st.floats(allow_nan=True).map(repr), max_size=5).map(",".join))
def test_parse_float_list_is_unique_finite_numbers_or_a_usage_error(text):
    try:
        values = parse_float_list(text, "--values")
    except UsageError as exc:
        assert "--values=" in str(exc)
        return
    assert values and all(math.isfinite(v) for v in values) and len(set(values)) == len(values)


GRAMMAR = st.sampled_from(["@", "+", ";", ":", "|", "#", "=", ",", "1", "0.5", "nan", "weight", "density", "true", "/", "a", "b", " ", "x@y"])
SPEC = st.lists(GRAMMAR, min_size=0, max_size=12).map("".join) | TYPED


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["linear", "ties", "dare_ties", "task_arithmetic", "slerp", "nearswap", "nope", "", "LINEAR"]),
    SPEC,
    st.dictionaries(st.sampled_from(["base", "dtype", "out_dtype", "seed", "density", "t", "normalize", "weight", "gamma", "zz"]),
                    SPEC, max_size=3),
)
def test_inline_grammar_never_raises_anything_but_recipe_errors(method, models, extra):
    try:
        recipe = MergeRecipe.from_inline({"method": method, "models": models, **extra})
    except RecipeError:
        return
    # Whatever parses is a valid mergekit configuration with finite numbers, and serialises.
    data = recipe.to_dict()
    assert data["merge_method"] == method
    MergeRecipe.from_mergekit_dict(data, seed=recipe.seed)
    try:  # the checks that need no model files: parameters, ranges, weights, base, input count
        check_recipe_structure(recipe)
    except RecipeError:
        pass
