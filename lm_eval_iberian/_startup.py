"""Start-up hook that makes the stock ``lm_eval`` CLI see installed plugins.

lm-eval 0.4.13 has no plugin discovery: a pip-installed package's tasks and
models are invisible unless the user passes ``--include_path`` or imports the
package first. Newer lm-eval releases read the entry-point groups
``lm_eval.tasks`` and ``lm_eval.models``; this module back-ports that reading.

``lm_eval_iberian-autoload.pth`` (installed into site-packages by setup.py)
holds one line that imports nothing: it puts a finder at the front of
``sys.meta_path`` whose ``find_spec`` returns ``None`` for every module except
``lm_eval.tasks`` and ``lm_eval.models``, and only for those imports this
module and calls :func:`find_spec`. Programs that never import lm-eval pay one
tuple lookup per import. When one of the two modules finishes executing, the
matching patch runs:

* ``lm_eval.tasks``: ``TaskManager`` also indexes the folders named by the
  ``lm_eval.tasks`` entry points (after any ``include_path`` the user gave);
* ``lm_eval.models``: every ``lm_eval.models`` entry point is registered as a
  lazy placeholder, so ``--model NAME`` resolves without importing the plugin
  until it is used. Registering after ``lm_eval.models`` ran keeps the
  built-in models (lm-eval only auto-registers those into an empty registry).

When ``lm_eval.tasks`` loads, an uncaught error of the plugin's user-error type (a bad recipe, a missing mirror
file: :class:`lm_eval_iberian._errors.UserError`) is also printed as one line instead of a traceback, as the
``lm-eval-iberian`` commands print it; every other exception keeps Python's traceback (and
``LM_EVAL_IBERIAN_TRACEBACK=1`` shows it for ours too). The hook is set only where Python's default one is.

Set ``LM_EVAL_IBERIAN_AUTOLOAD=0`` to switch the hook off.

:func:`install` does the same without the .pth file (e.g. from a conftest).
"""

import os
import sys

_TASKS_MODULE = "lm_eval.tasks"
_MODELS_MODULE = "lm_eval.models"
_WATCHED = frozenset({_TASKS_MODULE, _MODELS_MODULE})
_PATCHED_FLAG = "_lm_eval_plugins_patched"
_HOOK_MARK = "_lm_eval_iberian_hook"


def _entry_points(group: str) -> list:
    from importlib.metadata import entry_points

    return list(entry_points(group=group))


def plugin_task_paths() -> list[str]:
    """Folders declared by ``lm_eval.tasks`` entry points, in a stable order.

    An entry point may name a package or module (its folder is used), a
    callable returning a path, or a string/Path attribute.
    """
    import importlib
    from pathlib import Path

    paths: list[str] = []
    for ep in sorted(_entry_points("lm_eval.tasks"), key=lambda e: e.name):
        try:
            obj = ep.load()
        except Exception as exc:  # one broken plugin must not break lm_eval
            print(f"lm_eval plugin task path {ep.name!r} ({ep.value}) failed to load: {exc}", file=sys.stderr)
            continue
        if isinstance(obj, type(importlib)):
            path = Path(obj.__file__).parent
        elif callable(obj):
            path = Path(obj())
        else:
            path = Path(obj)
        if str(path) not in paths:
            paths.append(str(path))
    return paths


def _patch_task_manager(module) -> None:
    task_manager = module.TaskManager
    if getattr(task_manager, _PATCHED_FLAG, False):
        return
    original_init = task_manager.__init__

    def __init__(self, verbosity=None, include_path=None, include_defaults=True, metadata=None, **kwargs):
        from pathlib import Path

        given = [] if include_path is None else list(include_path) if isinstance(include_path, (list, tuple)) else [include_path]
        seen = {Path(p).resolve() for p in given}
        extra = [p for p in plugin_task_paths() if Path(p).resolve() not in seen]
        merged = given + extra
        original_init(
            self,
            verbosity=verbosity,
            include_path=merged or None,
            include_defaults=include_defaults,
            metadata=metadata,
            **kwargs,
        )
        # Report what the user asked for, not the plugin folders we added.
        self.include_path = include_path

    __init__.__wrapped__ = original_init
    __init__.__doc__ = original_init.__doc__
    task_manager.__init__ = __init__
    setattr(task_manager, _PATCHED_FLAG, True)


def _register_plugin_models(module) -> None:
    from lm_eval.api.registry import model_registry

    for ep in _entry_points("lm_eval.models"):
        if ep.name in model_registry:
            continue  # never shadow a built-in or an already registered model
        model_registry.register(ep.name, target=ep.value.replace(" ", ""))


def _user_error(exc: BaseException | None) -> BaseException | None:
    """The plugin's user error behind ``exc`` (itself, or what it was raised from), if any."""
    from lm_eval_iberian._errors import UserError

    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, UserError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def _excepthook(exc_type, exc, tb) -> None:
    user = _user_error(exc)
    if user is None or os.environ.get("LM_EVAL_IBERIAN_TRACEBACK", "").strip().lower() in {"1", "true", "yes", "on"}:
        sys.__excepthook__(exc_type, exc, tb)
        return
    print(f"error: {user}", file=sys.stderr)
    print("(lm-eval-iberian: LM_EVAL_IBERIAN_TRACEBACK=1 shows the traceback)", file=sys.stderr)


def _install_excepthook() -> None:
    if sys.excepthook is sys.__excepthook__:
        sys.excepthook = _excepthook


def _patch_tasks_module(module) -> None:
    from lm_eval_iberian._logs import install_task_log_filter

    _install_excepthook()
    install_task_log_filter()
    _patch_task_manager(module)


_PATCHES = {_TASKS_MODULE: _patch_tasks_module, _MODELS_MODULE: _register_plugin_models}


def find_spec(fullname, path=None, target=None):
    """Spec of a watched module whose loader runs our patch after the module executes.

    Called by the finder that the .pth line installs (and by :class:`_PostImportFinder`)
    only for ``lm_eval.tasks`` and ``lm_eval.models``; returns ``None`` for anything
    else, and for watched modules no other finder can locate.
    """
    patch = _PATCHES.get(fullname)
    if patch is None:
        return None
    for finder in sys.meta_path:
        if getattr(finder, _HOOK_MARK, False) or not hasattr(finder, "find_spec"):
            continue
        spec = finder.find_spec(fullname, path, target)
        if spec is not None:
            break
    else:
        return None
    loader = spec.loader
    if loader is None or not hasattr(loader, "exec_module"):
        return spec
    original_exec = loader.exec_module

    def exec_module(module):
        original_exec(module)
        try:
            patch(module)
        except Exception as exc:  # never break lm_eval because of a plugin
            print(f"lm_eval plugin hook for {fullname} failed: {exc!r}", file=sys.stderr)

    # Wrap on the instance only: the loader object belongs to this one spec.
    try:
        loader.exec_module = exec_module
    except AttributeError:
        pass
    return spec


class _PostImportFinder:
    """The same hook as an importable class, for :func:`install` (no .pth needed)."""

    _lm_eval_iberian_hook = True

    def find_spec(self, fullname, path=None, target=None):
        return find_spec(fullname, path, target)

    def invalidate_caches(self) -> None:
        pass


def install() -> None:
    """Install the post-import hook unless one is there; patch modules already loaded."""
    if _disabled():
        return
    for name in _WATCHED:
        module = sys.modules.get(name)
        if module is not None:
            _PATCHES[name](module)
    if not any(getattr(f, _HOOK_MARK, False) for f in sys.meta_path):
        sys.meta_path.insert(0, _PostImportFinder())


def _disabled() -> bool:
    return os.environ.get("LM_EVAL_IBERIAN_AUTOLOAD", "1").strip().lower() in {"0", "false", "no", "off"}
