"""JSON lines as users give them: each bad line named by file and line number, in the caller's error type."""

import json
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["json_lines"]


def json_lines(lines: Iterable[str], where: str, error: type[Exception], objects: bool = True) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` for every non-blank line; a line that is not JSON (or, with ``objects``, not a JSON
    object) raises ``error`` naming ``where:line``."""
    for line_no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"{where}:{line_no}: not valid JSON ({exc.msg}); is the file complete? fix or drop the line") from None
        if objects and not isinstance(value, dict):
            raise error(f"{where}:{line_no}: expected one JSON object per line, got a {type(value).__name__}")
        yield line_no, value
