"""JSON Schemas of what gradcheck writes (draft 2020-12), shipped with the package.

- ``run``: a run (``gradcheck check --json``, ``pytest --gradcheck-json``, ``RunResult.to_dict()``);
- ``summary``: many targets (``summary.json`` of ``--out`` / ``--gradcheck-out``);
- ``ledger``: the equation ledger (``gradcheck equations --json``; also a run's ``ledger``);
- ``bench``: the benchmark (``gradcheck bench --json``).

:func:`validate` checks a document against one of them (it needs the ``jsonschema`` package,
installed with ``pip install gradcheck[test]``).
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["NAMES", "path", "load", "validate"]

NAMES = ("run", "summary", "ledger", "bench")
_HERE = Path(__file__).resolve().parent


def path(name: str) -> Path:
    """The file of schema ``name`` (one of :data:`NAMES`)."""
    if name not in NAMES:
        raise ValueError(f"unknown schema {name!r}; choose from {', '.join(NAMES)}")
    return _HERE / f"{name}.schema.json"


def load(name: str) -> dict[str, Any]:
    """Schema ``name`` as a dict."""
    return json.loads(path(name).read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def _validator(name: str) -> Any:
    import jsonschema
    from referencing import Registry, Resource

    registry = Registry().with_resources((load(n)["$id"], Resource.from_contents(load(n))) for n in NAMES)
    cls = jsonschema.validators.validator_for(load(name))
    cls.check_schema(load(name))
    return cls(load(name), registry=registry)


def validate(document: Any, name: str = "run") -> None:
    """Raise ``jsonschema.ValidationError`` unless ``document`` is a valid ``name`` document."""
    _validator(name).validate(document)
