"""Paths users give: expansion, the output-must-not-touch-an-input rule, atomic writes that respect the umask.

Every command that writes checks its output against its inputs with :func:`check_output` before any work, and
writes files through :func:`atomic_write_text` / :func:`atomic_write_bytes` (a temporary file beside the target,
then ``os.replace``): a crash or a full disk never leaves a half-written file where a good one was.
"""

import contextlib
import os
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from lm_eval_iberian._errors import UsageError, UserError

__all__ = ["atomic_open", "atomic_write_bytes", "atomic_write_text", "check_output", "check_writable", "read_yaml_file",
           "user_path"]

# Longest path component and whole path most Linux file systems accept.
_NAME_MAX = 255
_PATH_MAX = 4096


def user_path(value: str | os.PathLike[str], name: str) -> Path:
    """A path as the user typed it: ``~`` expanded, over-long paths refused with the limit named."""
    text = os.fspath(value)
    if not text or not text.strip():
        raise UsageError(f"{name} is empty; give a file or folder path")
    path = Path(os.path.expanduser(text))
    if len(os.fsencode(str(path))) > _PATH_MAX:
        raise UsageError(f"{name}: the path is {len(os.fsencode(str(path)))} bytes long, over the {_PATH_MAX}-byte limit of "
                         "the file system; use a shorter path")
    long_parts = [part for part in path.parts if len(os.fsencode(part)) > _NAME_MAX]
    if long_parts:
        raise UsageError(f"{name}: the path component {long_parts[0][:40]}... is {len(os.fsencode(long_parts[0]))} bytes long, "
                         f"over the {_NAME_MAX}-byte limit for one file or folder name; shorten it")
    return path


def read_yaml_file(path: Path, label: str, error: type[UserError], kind: str) -> Any:
    """The YAML document in a file the user named (recipe, plan, CPT config).

    A folder, a missing file, bytes that are not UTF-8 or text that is not YAML is one ``error`` whose message starts
    with ``label`` (how the command names the file, e.g. ``recipe=PATH``) and says what to give instead (``kind``).
    """
    import yaml

    if path.is_dir():
        raise error(f"{label} is a folder; give {kind}")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{label} does not exist (no such file); give {kind}") from None
    except UnicodeDecodeError:
        raise error(f"{label}: not UTF-8 text; give {kind}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise error(f"{label}: not valid YAML ({where}{getattr(exc, 'problem', None) or exc})") from None


def _real(path: Path) -> Path:
    return Path(os.path.realpath(os.path.expanduser(os.fspath(path))))


def _within(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def check_output(output: str | os.PathLike[str], inputs: Mapping[str, str | os.PathLike[str] | None], flag: str) -> Path:
    """Refuse an output path that is, contains or lies inside one of the inputs (symlinks resolved).

    ``inputs`` maps a description (``"--input"``, ``"model"``) to a path; ``flag`` names the output option in
    the error. Returns the output as a :class:`~pathlib.Path` with ``~`` expanded.
    """
    out = user_path(output, flag)
    real_out = _real(out)
    for label, value in inputs.items():
        if value is None:
            continue
        real_in = _real(Path(value))
        if real_out == real_in:
            problem = "is the same path as"
        elif _within(real_out, real_in):
            problem = "lies inside"
        elif _within(real_in, real_out):
            problem = "contains"
        else:
            continue
        raise UsageError(f"{flag} {out} {problem} {label} {value}: writing there could overwrite what you gave as input; "
                         f"choose another {flag}")
    return out


def check_writable(folder: str | os.PathLike[str], flag: str) -> Path:
    """Fail now, not after hours of work, if files cannot be created in ``folder`` (or its nearest existing parent)."""
    path = user_path(folder, flag)
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        if probe == path:
            return path  # an existing file as the target: whether it may be replaced is the caller's rule
        raise UsageError(f"{flag} {path}: {probe} is a file, not a folder; choose another path")
    # Create (and remove) a probe file: permission bits alone miss read-only file systems and root's limits.
    try:
        with tempfile.TemporaryFile(dir=probe, prefix=".lm-eval-iberian-write-probe-"):
            pass
    except OSError as exc:
        raise UsageError(f"{flag} {path}: cannot create files in {probe} ({exc.strerror}); choose a folder you can write to") from None
    return path


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing; on success it replaces ``path`` in one rename.

    The temporary file is created with ``open(..., "x")``, so its permissions follow the umask (``mkstemp``
    would make it 0600, unreadable to the other users of a shared folder). On any error it is removed.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")
    binary = "b" in mode
    try:
        with open(tmp, "xb" if binary else "x", encoding=None if binary else encoding) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    with atomic_open(path, "w") as fh:
        fh.write(text)
    return Path(path)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    with atomic_open(path, "wb") as fh:
        fh.write(data)
    return Path(path)
