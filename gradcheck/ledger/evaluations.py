"""Evaluations: each transcription run over its left-hand side's index range on a case.

A transcription is the printed formula at one index (``(I * K)_{ij}``, ``dE/dw_{m'n'}``);
an evaluation tabulates it over the range its equation is read on (see each entry's
``reading``) and returns the array compared with the oracles. Cases are the dicts drawn by
:mod:`gradcheck.ledger.cases`; every shape below is a 2-D single-channel ``H x W`` array
unless stated.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from gradcheck.ledger import oracles as O
from gradcheck.ledger import transcriptions as T
from gradcheck.ledger.cases import Case

__all__ = [
    "tabulate",
    "f_of",
    "fprime_of",
    "f_torch_of",
    "full_range",
    "valid_shape",
    "eval_eq1",
    "eval_eq2",
    "eval_eq2_valid",
    "eval_eq4",
    "eval_eq4_as_eq2",
    "eval_eq5",
    "eval_eq4_c1",
    "forward",
    "eval_eq8",
    "eval_eq9",
    "eval_eq10",
    "eval_eq11",
    "eval_eq12",
    "eval_eq13",
    "eval_dw",
    "eval_eq14_scipy_valid",
    "eval_eq15",
    "eval_chain",
    "eval_eq18",
    "eval_eq19",
    "eval_dx",
    "eval_dx_map",
    "eval_eq22_correlate_full",
    "eval_eq22_convolve_valid",
    "eval_pool",
]


def tabulate(fn: Callable[[int, int], float], rows: int, cols: int) -> np.ndarray:
    """``out[i, j] = fn(i, j)`` for ``i < rows``, ``j < cols``: a formula over its range."""
    out = np.empty((rows, cols))
    for i in range(rows):
        for j in range(cols):
            out[i, j] = fn(i, j)
    return out


def f_of(case: Case) -> Callable[[float], float]:
    return O.ACTIVATIONS[case["f"]][1]


def fprime_of(case: Case) -> Callable[[float], float]:
    return O.ACTIVATIONS[case["f"]][2]


def f_torch_of(case: Case):
    return O.ACTIVATIONS[case["f"]][0]


# --- evaluations: each transcription over its left-hand side's index range -------------------

def full_range(fn: Callable, c: Case) -> np.ndarray:
    """``fn(I, K, i, j)`` for ``i = 0..H+k1-2``, ``j = 0..W+k2-2``."""
    (H, W), (k1, k2) = c["I"].shape, c["K"].shape
    return tabulate(lambda i, j: fn(c["I"], c["K"], i, j), H + k1 - 1, W + k2 - 1)


def valid_shape(c: Case, image: str, kernel: str) -> tuple[int, int]:
    (H, W), (k1, k2) = c[image].shape[:2], c[kernel].shape[:2]
    return H - k1 + 1, W - k2 + 1


def eval_eq1(c: Case) -> np.ndarray:
    return tabulate(lambda i, j: T.otimes(c["I"], c["K"], i, j), *valid_shape(c, "I", "K"))


def eval_eq2(c: Case) -> np.ndarray:
    return full_range(T.star, c)


def eval_eq2_valid(c: Case) -> np.ndarray:
    k1, k2 = c["K"].shape
    return tabulate(lambda i, j: T.star(c["I"], c["K"], i + k1 - 1, j + k2 - 1),
                    *valid_shape(c, "I", "K"))


def eval_eq4(c: Case, fn: Callable = T.eq4) -> np.ndarray:
    return tabulate(lambda i, j: fn(c["I"], c["K"], c["b"], i, j), *valid_shape(c, "I", "K"))


def eval_eq4_as_eq2(c: Case) -> np.ndarray:
    """Eq. 4's left side ``(I * K)`` as eq. 2 per channel (valid part), summed, plus b."""
    k1, k2, C = c["K"].shape
    return tabulate(lambda i, j: sum(T.star(c["I"][:, :, ch], c["K"][:, :, ch],
                                            i + k1 - 1, j + k2 - 1) for ch in range(C)) + c["b"],
                    *valid_shape(c, "I", "K"))


def eval_eq5(c: Case) -> np.ndarray:
    return tabulate(lambda i, j: T.eq5(c["I"], c["K"], c["b"], i, j), *valid_shape(c, "I", "K"))


def eval_eq4_c1(c: Case) -> np.ndarray:
    return eval_eq4({"I": c["I"][:, :, None], "K": c["K"][:, :, None], "b": c["b"]})


def forward(fn: Callable) -> Callable[[Case], np.ndarray]:
    def evaluate(c: Case) -> np.ndarray:
        return tabulate(lambda i, j: fn(c["w"], c["o_prev"], c["b"], i, j),
                        *valid_shape(c, "o_prev", "w"))
    return evaluate


def eval_eq8(c: Case) -> np.ndarray:
    return tabulate(lambda i, j: T.eq8(f_of(c), c["x"], i, j), *c["x"].shape)


def eval_eq9(c: Case) -> np.ndarray:
    return np.asarray(T.eq9(c["t"], c["y"]))


def eval_eq10(c: Case) -> np.ndarray:
    delta, dx_dw = O.delta_torch(c), O.jacobian_x_w_torch(c)
    (H, W), (k1, k2) = c["o_prev"].shape, c["w"].shape
    return tabulate(lambda m_, n_: T.eq10(delta, dx_dw, H, W, k1, k2, m_, n_), k1, k2)


def eval_eq11(c: Case) -> np.ndarray:
    Ho, Wo = valid_shape(c, "o_prev", "w")
    J = np.zeros((Ho, Wo, *c["w"].shape))
    for i in range(Ho):
        for j in range(Wo):
            J[i, j] = T.eq11(c["w"], c["o_prev"], c["b"], i, j)
    return J


def eval_eq12(c: Case) -> np.ndarray:
    Ho, Wo = valid_shape(c, "o_prev", "w")
    k1, k2 = c["w"].shape
    J = np.zeros((Ho, Wo, k1, k2))
    for i in range(Ho):
        for j in range(Wo):
            for m_ in range(k1):
                for n_ in range(k2):
                    J[i, j, m_, n_] = T.eq12(c["o_prev"], i, j, m_, n_)
    return J


def eval_eq13(c: Case, size_of: str = "o_prev") -> np.ndarray:
    """Eq. 13 for every (m', n'); ``H x W`` is the size of ``o_prev`` (or of ``x^l``, the
    layer's output, with ``size_of="x"``)."""
    delta, (k1, k2) = O.delta_torch(c), c["w"].shape
    H, W = c["o_prev"].shape if size_of == "o_prev" else delta.shape
    return tabulate(lambda m_, n_: T.eq13(delta, c["o_prev"], H, W, k1, k2, m_, n_), k1, k2)


def eval_dw(fn: Callable) -> Callable[[Case], np.ndarray]:
    def evaluate(c: Case) -> np.ndarray:
        delta = O.delta_torch(c)
        return tabulate(lambda m_, n_: fn(delta, c["o_prev"], m_, n_), *c["w"].shape)
    return evaluate


def eval_eq14_scipy_valid(c: Case) -> np.ndarray:
    return O.convolve_valid(T.rot180(O.delta_torch(c)), c["o_prev"])


def eval_eq15(c: Case) -> np.ndarray:
    return T.eq15(O.loss_of_x(c), c["x"])


def eval_chain(fn: Callable) -> Callable[[Case], np.ndarray]:
    def evaluate(c: Case) -> np.ndarray:
        J, (k1, k2) = O.jacobian_xnext_x_torch(c), c["w_next"].shape
        return tabulate(lambda i_, j_: fn(c["G"], J, k1, k2, i_, j_), *c["x"].shape)
    return evaluate


def eval_eq18(c: Case) -> np.ndarray:
    Ho, Wo = c["G"].shape
    J = np.zeros((Ho, Wo, *c["x"].shape))
    for p in range(Ho):
        for q in range(Wo):
            J[p, q] = T.eq18(c["w_next"], c["b_next"], f_torch_of(c), c["x"], p, q)
    return J


def eval_eq19(c: Case) -> np.ndarray:
    (Ho, Wo), (H, W), (k1, k2) = c["G"].shape, c["x"].shape, c["w_next"].shape
    J = np.zeros((Ho, Wo, H, W))
    for i_ in range(H):
        for j_ in range(W):
            for m in range(k1):
                for n in range(k2):
                    if 0 <= i_ - m < Ho and 0 <= j_ - n < Wo:
                        J[i_ - m, j_ - n, i_, j_] = T.eq19(c["w_next"], fprime_of(c), c["x"],
                                                           i_, j_, m, n)
    return J


def eval_dx(fn: Callable) -> Callable[[Case], np.ndarray]:
    def evaluate(c: Case) -> np.ndarray:
        return tabulate(lambda i_, j_: fn(c["G"], c["w_next"], fprime_of(c), c["x"], i_, j_),
                        *c["x"].shape)
    return evaluate


def eval_dx_map(fn: Callable) -> Callable[[Case], np.ndarray]:
    return lambda c: fn(c["G"], c["w_next"], fprime_of(c), c["x"])


def eval_eq22_correlate_full(c: Case) -> np.ndarray:
    fp = np.vectorize(fprime_of(c))(c["x"])
    return O.correlate_full(c["G"], T.rot180(c["w_next"])) * fp


def eval_eq22_convolve_valid(c: Case) -> np.ndarray:
    """Valid convolution of delta with rot180{w}; an empty array where scipy has no valid part."""
    fp = np.vectorize(fprime_of(c))(c["x"])
    try:
        conv = O.convolve_valid(c["G"], T.rot180(c["w_next"]))
    except ValueError:  # neither operand is at least as large as the other in every axis
        return np.empty((0,))
    return conv * fp if conv.shape == fp.shape else conv


def eval_pool(fn: Callable) -> Callable[[Case], np.ndarray]:
    return lambda c: fn(c["delta"], c["x"], c["N"], c["s"])
