"""Turn a target string into the object that holds an implementation's functions.

A target is ``reference`` (the built-in reference), a module path (``mypkg.layers``), a file
path (``path/to/layers.py``), or either followed by ``:attribute`` (an object holding the
functions). A file is imported under a private module name; its folder is on ``sys.path``
only while it is being imported, so its sibling modules resolve.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from types import ModuleType
from typing import Any

from .base import LoadError

__all__ = ["load_target", "split_target"]


def split_target(target: str) -> tuple[str, str | None]:
    """``"a/b.py:obj"`` -> ``("a/b.py", "obj")``; a Windows drive letter is not an attribute."""
    head, sep, tail = target.rpartition(":")
    if sep and tail and tail.isidentifier() and len(head) > 1:
        return head, tail
    return target, None


def _import_file(path: str) -> ModuleType:
    if not os.path.exists(path):
        raise LoadError(f"no such file: {path}")
    if os.path.isdir(path):
        init = os.path.join(path, "__init__.py")
        if not os.path.exists(init):
            raise LoadError(f"{path} is a folder without __init__.py")
        path = init
    path = os.path.abspath(path)
    name = "_gradcheck_target_" + hashlib.sha1(path.encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path, submodule_search_locations=None)
    if spec is None or spec.loader is None:
        raise LoadError(f"cannot import {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    folder = os.path.dirname(path)
    sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    finally:
        try:
            sys.path.remove(folder)
        except ValueError:
            pass
    return module


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"syntax error in {exc.filename} line {exc.lineno}: {exc.msg}"
    return f"{type(exc).__name__}: {exc}"


def load_target(target: str) -> Any:
    """Import ``target`` and return the module or object holding the functions.

    Raises :class:`LoadError` with one readable line for anything that goes wrong, including
    errors raised by the target's own import-time code.
    """
    if not target or not target.strip():
        raise LoadError("empty target")
    where, attr = split_target(target.strip())
    is_file = where.endswith(".py") or os.sep in where or "/" in where or os.path.exists(where)
    try:
        if where == "reference":
            obj: Any = importlib.import_module("reference")
        elif is_file:
            obj = _import_file(where)
        else:
            obj = importlib.import_module(where)
    except LoadError:
        raise
    except ModuleNotFoundError as exc:
        raise LoadError(f"cannot import {where!r}: {exc}") from None
    except SystemExit as exc:
        raise LoadError(f"importing {where} called sys.exit({exc.code})") from None
    except BaseException as exc:  # noqa: BLE001 - import-time code of a candidate
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise LoadError(f"importing {where} failed: {_describe(exc)}") from None
    if attr is not None:
        if not hasattr(obj, attr):
            raise LoadError(f"{where} has no attribute {attr!r}")
        obj = getattr(obj, attr)
    return obj
