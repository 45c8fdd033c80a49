"""Turn a target string into the object that holds an implementation's functions.

A target is ``reference`` (the built-in reference), a module path (``mypkg.layers``), a file
path (``path/to/layers.py``), or either followed by ``:attribute`` (an object holding the
functions).

A file on its own is imported under a private module name; its folder is on ``sys.path`` only
while it is being imported, so its sibling modules resolve. A file inside a package
(``cs231n/layers.py`` next to ``cs231n/__init__.py``, the layout of the CS231n assignments, whose
``layers.py`` does ``from cs231n.im2col import *``) is imported under its package name
(``cs231n.layers``) with the *package root* — the nearest folder above it without an
``__init__.py`` — on ``sys.path`` while it is imported (:func:`package_root`,
:func:`describe_import` says which). A folder without ``__init__.py`` that the file imports from
by its own name (``from cs231n import ...`` inside ``cs231n/layers.py``) is treated the same way.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import os
import re
import sys
from types import ModuleType
from typing import Any

from gradcheck.adapters.base import LoadError

__all__ = ["load_target", "split_target", "is_file_target", "package_root", "describe_import"]


def split_target(target: str) -> tuple[str, str | None]:
    """``"a/b.py:obj"`` -> ``("a/b.py", "obj")``; a Windows drive letter is not an attribute."""
    head, sep, tail = target.rpartition(":")
    if sep and tail and tail.isidentifier() and len(head) > 1:
        return head, tail
    return target, None


def is_file_target(where: str) -> bool:
    """Whether ``where`` (a target without its ``:attribute``) names a file or folder, not a module."""
    return where.endswith(".py") or os.sep in where or "/" in where or os.path.exists(where)


def package_root(path: str) -> tuple[str, str] | None:
    """``(root, dotted name)`` of a file inside a package, or ``None`` for a file on its own.

    The root is the nearest folder above ``path`` without an ``__init__.py``; the dotted name is
    the file's path below it (``/a/cs231n/layers.py`` -> ``("/a", "cs231n.layers")`` when
    ``/a/cs231n/__init__.py`` exists). A package folder itself (``/a/cs231n/``) is
    ``("/a", "cs231n")``. Folders whose names are not identifiers end the package. A file in a
    folder without ``__init__.py`` that imports from that folder by name is in a namespace
    package rooted one folder up.
    """
    path = os.path.abspath(path)
    if os.path.isdir(path):
        if not os.path.isfile(os.path.join(path, "__init__.py")):
            return None
        folder, parts = os.path.dirname(path), [os.path.basename(path)]
    else:
        stem = os.path.splitext(os.path.basename(path))[0]
        if stem == "__init__":
            return package_root(os.path.dirname(path))
        folder, parts = os.path.dirname(path), [stem]
    while os.path.isfile(os.path.join(folder, "__init__.py")) and os.path.basename(folder).isidentifier():
        parts.insert(0, os.path.basename(folder))
        folder = os.path.dirname(folder)
    if len(parts) == 1 and not os.path.isdir(path):
        if not _imports_its_folder(path):
            return None
        parts.insert(0, os.path.basename(folder))  # a namespace package: cs231n/ without __init__.py
        folder = os.path.dirname(folder)
    if not all(p.isidentifier() for p in parts):
        return None
    return folder, ".".join(parts)


def _imports_its_folder(path: str) -> bool:
    """Whether the file at ``path`` imports from its own folder by name (``from cs231n.x import``)."""
    name = os.path.basename(os.path.dirname(path))
    if not name.isidentifier():
        return False
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            source = fh.read(200_000)
    except OSError:
        return False
    return re.search(rf"^\s*(?:from\s+{re.escape(name)}(?:\.|\s)|import\s+{re.escape(name)}(?:\.|\s|$))", source,
                     re.MULTILINE) is not None


def describe_import(target: str) -> str | None:
    """One line saying how a file target inside a package is imported, or ``None`` for others."""
    where, _ = split_target(target.strip())
    if not is_file_target(where) or not os.path.exists(where):
        return None
    found = package_root(where)
    if found is None:
        return None
    root, dotted = found
    return f"imported as {dotted}, with its package root {root} on sys.path"


@contextlib.contextmanager
def _on_path(folder: str):
    sys.path.insert(0, folder)
    try:
        yield
    finally:
        try:
            sys.path.remove(folder)
        except ValueError:
            pass


def _import_package_module(path: str, root: str, dotted: str) -> ModuleType:
    """Import ``dotted`` with ``root`` on ``sys.path``; it must come from ``path``."""
    top = dotted.split(".")[0]
    known = sys.modules.get(top)
    where = os.path.join(root, top)
    if known is not None and not _comes_from(known, where):
        raise LoadError(f"cannot import {path} as {dotted}: another package named {top} is already imported "
                        f"(from {getattr(known, '__file__', None) or list(getattr(known, '__path__', []))})")
    with _on_path(root):
        module = importlib.import_module(dotted)
    return module


def _comes_from(module: ModuleType, folder: str) -> bool:
    paths = [os.path.dirname(module.__file__)] if getattr(module, "__file__", None) else []
    paths += list(getattr(module, "__path__", []))
    return any(os.path.abspath(p) == os.path.abspath(folder) for p in paths)


def _import_file(path: str) -> ModuleType:
    if not os.path.exists(path):
        raise LoadError(f"no such file: {path}")
    found = package_root(path)
    if found is not None:
        return _import_package_module(path, *found)
    if os.path.isdir(path):
        init = os.path.join(path, "__init__.py")
        if not os.path.exists(init):
            raise LoadError(f"{path} is a folder without __init__.py")
        path = init
    return _import_single(os.path.abspath(path))


def _import_single(path: str) -> ModuleType:
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


def _how(target: str, is_file: bool) -> str:
    how = describe_import(target) if is_file else None
    return f" ({how})" if how else ""


def load_target(target: str) -> Any:
    """Import ``target`` and return the module or object holding the functions.

    Raises :class:`LoadError` with one readable line for anything that goes wrong, including
    errors raised by the target's own import-time code.
    """
    if not target or not target.strip():
        raise LoadError("empty target")
    where, attr = split_target(target.strip())
    is_file = is_file_target(where)
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
        raise LoadError(f"cannot import {where!r}{_how(target, is_file)}: {exc}") from None
    except SystemExit as exc:
        raise LoadError(f"importing {where}{_how(target, is_file)} called sys.exit({exc.code})") from None
    except BaseException as exc:  # noqa: BLE001 - import-time code of a candidate
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise LoadError(f"importing {where}{_how(target, is_file)} failed: {_describe(exc)}") from None
    if attr is not None:
        if not hasattr(obj, attr):
            raise LoadError(f"{where} has no attribute {attr!r}")
        obj = getattr(obj, attr)
    return obj
