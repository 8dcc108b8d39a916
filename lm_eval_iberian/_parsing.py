"""Strict parsers for the values users type: booleans, integers, finite numbers, comma lists.

One parser per kind, used by the model arguments, the command line, lm-eval metadata and the configs, so
``allow_pickle=no`` can never mean *yes* and ``seed=-1`` is refused with the valid range instead of numpy's
message. Every failure is a :class:`~lm_eval_iberian._errors.UsageError` naming the argument, the value and
what is allowed.
"""

import math
import os
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BeforeValidator

from lm_eval_iberian._errors import UsageError

__all__ = [
    "BOOL_SPELLINGS",
    "SEED_RANGE",
    "StrictBool",
    "env_flag",
    "parse_bool",
    "parse_float",
    "parse_float_list",
    "parse_int",
    "parse_seed",
]

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")
BOOL_SPELLINGS = "true/false, 1/0, yes/no, on/off (any case)"
# numpy's and torch's seeds are unsigned 32-bit.
SEED_RANGE = (0, 2**32 - 1)


def env_flag(name: str) -> bool:
    """Whether environment variable ``name`` is set to one of the true spellings (``HF_HUB_OFFLINE=1``, ``=yes``)."""
    return os.environ.get(name, "").strip().lower() in _TRUE


def parse_bool(value: Any, name: str) -> bool:
    """``true/false``, ``1/0``, ``yes/no``, ``on/off`` in any case (and real booleans); nothing else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        low = value.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
    raise UsageError(f"{name}={value!r} is not a boolean; write one of {BOOL_SPELLINGS}")


def _pydantic_bool(value: Any) -> bool:
    try:
        return parse_bool(value, "value")
    except UsageError:
        raise ValueError(f"not a boolean; write one of {BOOL_SPELLINGS}") from None


# A pydantic field type with the same spellings (pydantic alone would also take "y", "t" or 1.0); configs and plans.
StrictBool = Annotated[bool, BeforeValidator(_pydantic_bool)]


def parse_int(value: Any, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """An integer (``"12"`` or ``12``; never ``12.7``, ``True`` or ``"1e3"``) within ``[minimum, maximum]``."""
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            number = None
    else:
        number = None
    if number is None:
        raise UsageError(f"{name}={value!r} is not an integer{_allowed(minimum, maximum)}")
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise UsageError(f"{name}={number} is out of range{_allowed(minimum, maximum)}")
    return number


def parse_seed(value: Any, name: str = "seed") -> int:
    """A random seed numpy and torch accept: an integer in [0, 2**32 - 1]."""
    return parse_int(value, name, *SEED_RANGE)


def parse_float(value: Any, name: str, minimum: float | None = None, maximum: float | None = None) -> float:
    """A finite number (``nan``, ``inf`` and literals too large to be finite, such as ``1e999``, are refused)."""
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    else:
        number = None
    if number is None:
        raise UsageError(f"{name}={value!r} is not a number{_allowed(minimum, maximum)}")
    if not math.isfinite(number):
        raise UsageError(f"{name}={value!r} is not a finite number{_allowed(minimum, maximum) or '; give a value such as 0.5'}")
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise UsageError(f"{name}={value!r} is out of range{_allowed(minimum, maximum)}")
    return number


def parse_float_list(text: str, name: str, *, unique: bool = True, **bounds: float | None) -> list[float]:
    """``"0.5,1,2"`` -> ``[0.5, 1.0, 2.0]``: every item a finite number, none empty, none repeated."""
    items = [item.strip() for item in str(text).split(",")]
    if not items or any(not item for item in items):
        raise UsageError(f"{name}={text!r}: give comma-separated numbers with no empty item, e.g. 0.5,1.0,2.0")
    values = [parse_float(item, name, **bounds) for item in items]
    if unique:
        seen: dict[float, str] = {}
        for item, value in zip(items, values, strict=True):
            if value in seen:
                raise UsageError(f"{name}={text!r}: {seen[value]} and {item} are the same value; list each value once")
            seen[value] = item
    return values


def _allowed(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f"; it must lie in [{minimum}, {maximum}]"
    if minimum is not None:
        return f"; it must be >= {minimum}"
    if maximum is not None:
        return f"; it must be <= {maximum}"
    return ""


def argparse_type(parser: Callable[..., Any], name: str, **kwargs: Any) -> Callable[[str], Any]:
    """Wrap a parser for argparse: its message becomes argparse's one-line ``argument --x: ...`` error."""
    import argparse

    def convert(text: str) -> Any:
        try:
            return parser(text, name, **kwargs)
        except UsageError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = name.lstrip("-")
    return convert
