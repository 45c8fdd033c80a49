"""Adapters: one interface to an implementation, whatever convention it follows.

- ``native``: the project's own protocol (``gradcheck.ops.protocol``); ``reference/`` speaks it.
- ``cs231n``: the CS231n ``layers.py`` convention.
- ``torch``: PyTorch callables differentiated by autograd, on CPU or CUDA.
"""
from __future__ import annotations

from typing import Any

from gradcheck.adapters.base import BadReturn, CandidateError, Implementation, LoadError
from gradcheck.adapters.cs231n import CS231nAdapter
from gradcheck.adapters.loader import load_target
from gradcheck.adapters.native import NativeAdapter
from gradcheck.adapters.torch_adapter import TorchAdapter

__all__ = ["APIS", "load", "Implementation", "LoadError", "CandidateError", "BadReturn"]

APIS = ("native", "cs231n", "torch")


def load(target: str, api: str = "native", *, device: str = "cpu", allow_tf32: bool = False) -> Any:
    """Load ``target`` and wrap it in the adapter of ``api``.

    Raises :class:`LoadError` (one readable line) when the target cannot be imported, the API
    is unknown, the target holds no function the API recognises, or it is written for another
    convention (the line then names the ``--api`` to use; ``gradcheck.adapters.hints``).
    """
    if api not in APIS:
        raise LoadError(f"unknown --api {api!r}; choose one of {', '.join(APIS)}")
    if device != "cpu" and api != "torch":
        raise LoadError(f"--device {device} needs --api torch (numpy implementations run on the CPU)")
    obj = load_target(target)
    from gradcheck.adapters.hints import convention_hint

    hint = convention_hint(obj, target, api)
    if hint is not None:
        raise LoadError(hint)
    if api == "native":
        impl: Any = NativeAdapter(obj, target)
    elif api == "cs231n":
        impl = CS231nAdapter(obj, target)
    else:
        try:
            impl = TorchAdapter(obj, target, device=device, allow_tf32=allow_tf32)
        except (RuntimeError, ImportError) as exc:
            raise LoadError(str(exc)) from None
    if not any(impl.missing(label) is None for label in impl.ops()):
        raise LoadError(f"{target} provides no function of the {api} convention (see `gradcheck check --help`)")
    return impl
