"""Run configuration and the hypothesis profiles.

Two profiles, as hypothesis users expect: ``ci`` (the default: derandomised, so a run is
reproducible without a seed, and bounded) and ``thorough`` (many more examples, randomised by
``--seed``). Chosen by ``--profile`` / ``--gradcheck-profile`` or ``GRADCHECK_PROFILE``.
"""
from __future__ import annotations

import os
from typing import Any
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase, settings

from gradcheck.dtypes import DTYPES

__all__ = ["RunConfig", "run_config", "PROFILES", "hypothesis_settings", "default_profile", "hypothesis_storage",
           "keep_hypothesis_files_in_cache"]

#: profile -> (smooth examples per op, kink examples per op)
PROFILES: dict[str, tuple[int, int]] = {"ci": (10, 6), "thorough": (200, 60)}


def default_profile() -> str:
    return os.environ.get("GRADCHECK_PROFILE", "ci")


@dataclass
class RunConfig:
    """What to run and how.

    - ``ops``: op labels to check (``None``: all the implementation provides).
    - ``max_examples`` / ``kink_examples``: per op; ``None`` takes the profile's.
    - ``seed``: randomises the ``thorough`` profile reproducibly; the ``ci`` profile is
      derandomised and ignores it unless given.
    - ``timeout``: seconds one candidate call may take.
    - ``dtype``: the dtype the candidate is given (``float64``, ``float32``, ``float16`` or
      ``bfloat16``; the last needs the torch API: numpy has no bfloat16). float16 and bfloat16
      are judged against torch's own error in the same dtype (``gradcheck.judge.lowprec``).
    - ``jobs``: ops checked at once, each in its own worker process.
    - ``deterministic``: repeated calls must be bitwise equal (by default they may differ within
      rounding, as kernels that sum in a varying order do; the spread is reported).
    """

    ops: list[str] | None = None
    profile: str = field(default_factory=default_profile)
    max_examples: int | None = None
    kink_examples: int | None = None
    seed: int | None = None
    timeout: float = 20.0
    dtype: str = "float64"
    device: str = "cpu"
    allow_tf32: bool = False
    jobs: int = 1
    isolate: bool = True
    deterministic: bool = False

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"unknown profile {self.profile!r}; choose one of {', '.join(PROFILES)}")
        smooth, kink = PROFILES[self.profile]
        self.max_examples = smooth if self.max_examples is None else self.max_examples
        self.kink_examples = kink if self.kink_examples is None else self.kink_examples
        if self.max_examples < 1 or self.kink_examples < 0:
            raise ValueError("example counts must be positive")
        if self.timeout <= 0:
            raise ValueError("--timeout must be positive")
        if self.dtype not in DTYPES:
            raise ValueError(f"--dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")


def run_config(*, ops: str | list[str] | None = None, profile: str | None = None, **options: Any) -> RunConfig:
    """The one place the command line and the pytest plugin build a :class:`RunConfig`.

    ``ops`` may be a comma-separated string (as both take it) or a list; ``profile`` ``None``
    takes the default (``GRADCHECK_PROFILE``, else ``ci``); options given as ``None`` keep their
    defaults (``jobs``, ``device``, ...). Raises ``ValueError`` for a bad value, naming it.
    """
    if isinstance(ops, str):
        ops = [o.strip() for o in ops.split(",") if o.strip()] or None
    kept = {k: v for k, v in options.items() if v is not None or k in ("max_examples", "kink_examples", "seed")}
    return RunConfig(ops=ops, profile=profile or default_profile(), **kept)


def hypothesis_settings(cfg: RunConfig, max_examples: int,
                        phases: tuple = (Phase.explicit, Phase.generate, Phase.shrink)) -> settings:
    """Settings for one op's exploration: no database, no deadline, no health-check noise."""
    return settings(
        max_examples=max_examples,
        derandomize=cfg.seed is None,
        database=None,
        deadline=None,
        print_blob=False,
        report_multiple_bugs=False,
        phases=phases,
        suppress_health_check=list(HealthCheck),
    )


def hypothesis_storage() -> str:
    """The folder hypothesis may keep its working files in during a run (never the current one).

    ``$GRADCHECK_CACHE/hypothesis``, else ``$XDG_CACHE_HOME/gradcheck/hypothesis``, else
    ``~/.cache/gradcheck/hypothesis``.
    """
    base = os.environ.get("GRADCHECK_CACHE")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        base = os.path.join(xdg, "gradcheck")
    return os.path.join(base, "hypothesis")


def keep_hypothesis_files_in_cache() -> None:
    """Point hypothesis's working folder at :func:`hypothesis_storage`, unless the user chose one
    (``$HYPOTHESIS_STORAGE_DIRECTORY``), so a run leaves no ``.hypothesis`` in the current folder.

    Set through the environment, so worker processes started afterwards follow it; call it
    before any hypothesis test runs (hypothesis reads it once).
    """
    os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", hypothesis_storage())
