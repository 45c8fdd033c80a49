"""The ledger's table: one entry per numbered equation of the seed and per pooling rule.

An entry pairs a literal transcription (:mod:`gradcheck.ledger.transcriptions`) with

- ``evaluate``: the transcription run over its left-hand side's index range on a case;
- ``reading``: how a printed ambiguity was resolved (output range, out-of-range indices, what
  ``*`` and ``rot_180`` mean where they are applied);
- ``oracles``: what it is checked against (scipy, torch autograd, finite differences, or
  another equation of the seed);
- ``classes``: the cases it is checked on, the seed's own setting first;
- optionally a ``corrected`` form (checked the same way when the printed one fails) and
  ``alternatives``: other readings, each checked and reported.

Texts that explain a failure (``explain``) are shown only when the checks find one.

Long because the table has one entry per numbered equation and pooling rule.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from gradcheck.ledger import evaluations as V
from gradcheck.ledger import oracles as O
from gradcheck.ledger import pooling_rules as P
from gradcheck.ledger import transcriptions as T
from gradcheck.ledger.cases import (Case, activation_cases, dw_cases, dx_cases, forward_cases, image_kernel_cases,
                                    mse_cases, multichannel_cases, pool_cases)
from gradcheck.ledger.checks import CaseClass, Oracle
from gradcheck.ledger.printed import LATEX, POOLING

__all__ = ["Entry", "Corrected", "Alternative", "ENTRIES", "ENTRY_IDS"]


@dataclass(frozen=True)
class Corrected:
    """A corrected form of a failing equation: LaTeX, its literal code and its evaluation."""

    latex: str
    transcription: Callable
    evaluate: Callable[[Case], np.ndarray]


@dataclass(frozen=True)
class Alternative:
    """Another reading of the printed equation, checked and reported beside the main one.

    ``short`` is a few words for the one-line reason; ``case_class`` indexes the entry's
    classes; ``oracles`` defaults to the entry's. ``standard``: the reading keeps the seed's
    own operation and changes only its index convention (``*`` as scipy's ``mode='valid'``,
    the valid part re-indexed from 0), so an equation that holds under it is right up to an
    index shift; other readings give a symbol another meaning (``*`` as a cross-correlation,
    Python's negative indices, a mean for a sum).
    """

    short: str
    reading: str
    evaluate: Callable[[Case], np.ndarray]
    oracles: tuple[Oracle, ...] | None = None
    case_class: int = 0
    standard: bool = False


@dataclass(frozen=True)
class Entry:
    """One row of the ledger (see the module docstring)."""

    id: str
    number: int | None
    title: str
    latex: str
    transcription: Callable
    evaluate: Callable[[Case], np.ndarray]
    reading: str
    oracles: tuple[Oracle, ...]
    classes: tuple[CaseClass, ...]
    setting: str = ""
    explain: str = ""
    corrected: Corrected | None = None
    alternatives: tuple[Alternative, ...] = ()

    @property
    def checked_against(self) -> list[str]:
        return [o.name for o in self.oracles]


def _seed_class(strategy, label: str = "the seed's setting") -> tuple[CaseClass, ...]:
    return (CaseClass(label, strategy),)


# --- oracles -------------------------------------------------------------------------------

SCIPY_CORR = Oracle("scipy.signal.correlate2d", lambda c: O.correlate_valid(c["I"], c["K"]))
SCIPY_CONV_FULL = Oracle("scipy.signal.convolve2d", lambda c: O.convolve_full(c["I"], c["K"]))
TORCH_CONV = Oracle("torch.nn.functional.conv2d",
                    lambda c: O.conv_layer(c["o_prev"], c["w"], c["b"]))
FD_DW = Oracle("finite differences", O.dw_fd, "fd")
TORCH_DW = Oracle("torch.autograd", O.dw_torch)
FD_DX = Oracle("finite differences", O.dx_fd, "fd")
TORCH_DX = Oracle("torch.autograd", O.dx_torch)
JAC_W = (Oracle("torch.autograd", O.jacobian_x_w_torch),
         Oracle("finite differences", O.jacobian_x_w_fd, "fd"))
JAC_X = (Oracle("torch.autograd", O.jacobian_xnext_x_torch),
         Oracle("finite differences", O.jacobian_xnext_x_fd, "fd"))
EQ7 = Oracle("eq7", V.forward(T.eq7))
EQ13 = Oracle("eq13", V.eval_eq13)
EQ20 = Oracle("eq20", V.eval_dx(T.eq20))


def _pool_oracles(kind: str, torch_name: str) -> tuple[Oracle, ...]:
    return (Oracle(f"torch.autograd ({torch_name})", lambda c: O.pool_dx_torch(kind, c)),
            Oracle("finite differences", lambda c: O.pool_dx_fd(kind, c), "fd"))


POOL_SETTING = "x is H x W, N x N windows at stride s, delta holds one value per window"


def _pool_classes(third: str) -> tuple[CaseClass, ...]:
    seed = CaseClass("the seed's setting: N x N blocks tiling x (stride N), distinct non-zero "
                     "values", pool_cases())
    overlap = CaseClass("overlapping windows (stride < N)", pool_cases(overlap=True),
                        requires="non-overlapping windows (stride = N)")
    if third == "ties":
        other = CaseClass("tied values in a block", pool_cases(ties=True),
                          requires="a unique maximum in each block")
    else:
        other = CaseClass("blocks of zeros allowed (o = 0)", pool_cases(zeros=True),
                          requires="o > 0 in every block")
    return (seed, overlap, other)


DW_SETTING = ("one layer l: x^l = o^{l-1} (x) w^l + b^l (valid part), upstream linear loss "
              "E = sum_ij G_ij x^l_ij, so delta^l = G; o^{l-1} is H x W, w^l is k1 x k2")
DX_SETTING = ("two layers: x^l (H x W) -> f (tanh or sigmoid) -> o^l -> (x) w^{l+1} (k1 x k2) "
              "+ b^{l+1} -> x^{l+1}, upstream linear loss E = sum_ij G_ij x^{l+1}_ij, so "
              "delta^{l+1} = G")
#: The one convention for indices the printed ranges leave: zero, not Python's wrap-around.
ZERO = "zero outside its index range (not Python's wrap-around of negative indices)"
#: How ``*`` is read wherever it is printed: eq. 2 itself, at the printed indices.
STAR = ("* is eq. 2 itself, its left operand " + ZERO + ", summed over its right operand's "
        "index range (this is the full convolution, so the order of the operands does not "
        "matter) and evaluated at the very index printed on the left-hand side")


def _build() -> tuple[Entry, ...]:
    ik, ikb = image_kernel_cases(), image_kernel_cases(bias=True)
    fwd, dw, dx = forward_cases(), dw_cases(), dx_cases()
    return (
        Entry(
            "eq1", 1, "cross-correlation", LATEX[1], T.otimes, V.eval_eq1,
            "(i, j) over 0..H-k1 x 0..W-k2, the indices where every I(i+m, j+n) lies inside "
            "the image; there it is scipy's mode='valid', index for index.",
            (SCIPY_CORR,), _seed_class(ik), "I is H x W, K is k1 x k2"),
        Entry(
            "eq2", 2, "convolution", LATEX[2], T.star, V.eval_eq2,
            f"I(i-m, j-n) is {ZERO}. (I * K)_ij is taken at every index where a term can be "
            "non-zero, i = 0..H+k1-2, j = 0..W+k2-2: scipy's mode='full', index for index. "
            "Only i = k1-1..H-1, j = k2-1..W-1 keep every term inside the image; mode='valid' "
            "is that part re-indexed from 0 (checked as an alternative).",
            (SCIPY_CONV_FULL,), _seed_class(ik), "I is H x W, K is k1 x k2",
            alternatives=(Alternative(
                "valid part re-indexed", "(I * K)_{i+k1-1, j+k2-1} for i = 0..H-k1, "
                "j = 0..W-k2, against scipy.signal.convolve2d(I, K, mode='valid')",
                V.eval_eq2_valid,
                (Oracle("scipy.signal.convolve2d",
                        lambda c: O.convolve_valid(c["I"], c["K"])),), standard=True),)),
        Entry(
            "eq3", 3, "convolution rewritten with K(-m,-n)", LATEX[3], T.eq3,
            lambda c: V.full_range(T.eq3, c),
            "Same output range as eq. 2; I and K are each " + ZERO + ". K is defined on "
            "0..k1-1 x 0..k2-1, so of the printed range only m = n = 0 reaches it.",
            (Oracle("eq2", V.eval_eq2), SCIPY_CONV_FULL), _seed_class(ik),
            "I is H x W, K is k1 x k2",
            explain="with m, n >= 0, K(-m,-n) lies outside K except at m = n = 0, so the "
                    "printed sum is I(i,j)K(0,0); substituting m -> -m must also flip the "
                    "summation range",
            corrected=Corrected(
                r"(I \ast K)_{ij} = \sum_{m = -(k_1 - 1)}^{0} \sum_{n = -(k_2 - 1)}^{0} "
                r"I(i+m, j+n)K(-m,-n)", T.eq3_corrected,
                lambda c: V.full_range(T.eq3_corrected, c)),
            alternatives=(Alternative(
                "K(-m,-n) as Python's K[-m,-n]", "K(-m, -n) read as Python's K[-m, -n] "
                "(negative indices wrap around)", lambda c: V.full_range(T.eq3_wraparound, c)),)),
        Entry(
            "eq4", 4, "convolutional layer, C channels", LATEX[4], T.eq4, V.eval_eq4,
            "I is H x W x C and K is k1 x k2 x C, one filter of the bank (D = 1, b = b_d); "
            "c = 1..C is channel c-1; '+ b' is outside the three sums (added once). The "
            "right-hand side is checked against torch's convolution layer (a cross-correlation "
            "summed over channels, plus the bias); '(I * K)' on the left is read as the seed's "
            "name for that output, since eq. 2's convolution would disagree (checked as an "
            "alternative).",
            (Oracle("torch.nn.functional.conv2d",
                    lambda c: O.conv_layer_hwc(c["I"], c["K"], c["b"])),),
            _seed_class(multichannel_cases()), "I is H x W x C, K is k1 x k2 x C, scalar b",
            alternatives=(
                Alternative("b inside the sums", "'+ b' inside the three sums (added "
                            "k1*k2*C times)", lambda c: V.eval_eq4(c, T.eq4_b_inside)),
                Alternative("(I * K) as eq. 2", "the left-hand side (I * K) as eq. 2's "
                            "convolution per channel (valid part), summed over channels, "
                            "plus b", V.eval_eq4_as_eq2))),
        Entry(
            "eq5", 5, "convolutional layer, one channel", LATEX[5], T.eq5, V.eval_eq5,
            "C = 1: I is H x W, K is k1 x k2; '+ b' outside the sums, as in eq. 4.",
            (Oracle("eq4", V.eval_eq4_c1),
             Oracle("torch.nn.functional.conv2d",
                    lambda c: O.conv_layer(c["I"], c["K"], c["b"]))),
            _seed_class(ikb), "I is H x W, K is k1 x k2, scalar b"),
        Entry(
            "eq6", 6, "forward pass as rot180{w} * o", LATEX[6], T.eq6, V.forward(T.eq6),
            f"x^l_ij for i = 0..H-k1, j = 0..W-k2 (the layer's output); {STAR}; "
            "rot180 flips w; b^l_ij = b^l, one shared bias.",
            (EQ7, TORCH_CONV), _seed_class(fwd), "o^{l-1} is H x W, w^l is k1 x k2, scalar b^l",
            explain="eq. 2's rot180{w} * o at (i, j) is x at (i-k1+1, j-k2+1): off by "
                    "(k1-1, k2-1) unless * is re-indexed to its valid part",
            corrected=Corrected(
                r"x_{i,j}^l = \left(\text{rot}_{180^\circ} \left\{ w^l \right\} \ast "
                r"o^{l-1}\right)_{i+k_1-1,\, j+k_2-1} + b^l", T.eq6_corrected,
                V.forward(T.eq6_corrected)),
            alternatives=(
                Alternative("* as convolve2d mode='valid'", "* as scipy.signal.convolve2d("
                            "rot180{w}, o, mode='valid'): the valid part, re-indexed from 0",
                            lambda c: O.convolve_valid(T.rot180(c["w"]), c["o_prev"]) + c["b"],
                            standard=True),
                Alternative("* as the (x) of eqs. 4-5", "* as the cross-correlation (eq. 1) "
                            "that eqs. 4-5 write as *: o (x) rot180{w}",
                            V.forward(lambda w, o, b, i, j: T.otimes(o, T.rot180(w), i, j) + b)))),
        Entry(
            "eq7", 7, "forward pass", LATEX[7], T.eq7, V.forward(T.eq7),
            "sum_m sum_n over w's index range 0..k1-1 x 0..k2-1; x^l_ij for i = 0..H-k1, "
            "j = 0..W-k2; b^l_ij = b^l for every (i, j).",
            (TORCH_CONV, Oracle("scipy.signal.correlate2d",
                                lambda c: O.correlate_valid(c["o_prev"], c["w"]) + c["b"])),
            _seed_class(fwd), "o^{l-1} is H x W, w^l is k1 x k2, scalar b^l"),
        Entry(
            "eq8", 8, "activation (definition)", LATEX[8], T.eq8, V.eval_eq8,
            "f applied pixel by pixel; f is ReLU, tanh or sigmoid.",
            (Oracle("torch.relu/tanh/sigmoid", lambda c: O.activation(c["f"], c["x"])),),
            _seed_class(activation_cases()), "x^l is H x W"),
        Entry(
            "eq9", 9, "squared error (definition)", LATEX[9], T.eq9, V.eval_eq9,
            "half the sum over the P predictions, with no 1/P despite the name 'mean squared "
            "error' (checked as an alternative).",
            (Oracle("torch.nn.functional.mse_loss(reduction='sum') / 2",
                    lambda c: O.mse_sum(c["y"], c["t"]) / 2),),
            _seed_class(mse_cases()), "t and y of length P",
            alternatives=(Alternative(
                "'mean squared error' as a mean", "the name 'mean squared error' read as "
                "torch.nn.functional.mse_loss(reduction='mean')", V.eval_eq9,
                (Oracle("torch.nn.functional.mse_loss(reduction='mean')",
                        lambda c: O.mse_mean(c["y"], c["t"])),)),)),
        Entry(
            "eq10", 10, "dE/dw by the chain rule", LATEX[10], T.eq10, V.eval_eq10,
            "H x W is the size of the layer's input o^{l-1} (its output x^l is "
            "(H-k1+1) x (W-k2+1), as the text says); eq. 10 is the chain rule, so its factors "
            "delta^l_ij = dE/dx^l_ij and dx_ij/dw_m'n' are taken from torch autograd (their "
            "own formulas are eqs. 15 and 12).",
            (FD_DW, TORCH_DW), _seed_class(dw), DW_SETTING),
        Entry(
            "eq11", 11, "dx/dw of the forward sum", LATEX[11], T.eq11, V.eval_eq11,
            "sum_m sum_n over w's index range; the bracket is built term by term and "
            "differentiated (autograd on the literal expression), for every (i, j) of x^l and "
            "every (m', n') of w.",
            JAC_W, _seed_class(dw), DW_SETTING),
        Entry(
            "eq12", 12, "dx/dw = o", LATEX[12], T.eq12, V.eval_eq12,
            "for every (i, j) of x^l (0..H-k1 x 0..W-k2) and every (m', n') of w.",
            JAC_W, _seed_class(dw), DW_SETTING),
        Entry(
            "eq13", 13, "dE/dw as a sum over the output", LATEX[13], T.eq13, V.eval_eq13,
            "i, j over the printed ranges 0..H-k1, 0..W-k2 with H x W the size of o^{l-1}, "
            "the layer's input (reading H x W as x^l's size is checked as an alternative); "
            "delta^l from torch autograd (eq. 15).",
            (FD_DW, TORCH_DW), _seed_class(dw), DW_SETTING,
            alternatives=(Alternative(
                "H x W as x^l's size", "H x W read as the size of x^l (the notation's "
                "'input x is H x W'), so the sums stop k1-1, k2-1 short",
                lambda c: V.eval_eq13(c, size_of="x")),)),
        Entry(
            "eq14", 14, "dE/dw as rot180{delta} * o", LATEX[14], T.eq14, V.eval_dw(T.eq14),
            f"(m', n') over 0..k1-1 x 0..k2-1; {STAR}; rot180 flips delta^l over its "
            "(H-k1+1) x (W-k2+1) grid.",
            (EQ13, TORCH_DW), _seed_class(dw), DW_SETTING,
            explain="eq. 2's rot180{delta} * o at (m', n') is eq. 13 at (m'-H+k1, n'-W+k2): off "
                    "by (H-k1, W-k2) unless * is re-indexed to its valid part",
            corrected=Corrected(
                r"\frac{\partial E}{\partial w_{m',n'}^l} = \left(\text{rot}_{180^\circ} "
                r"\left\{ \delta^{l} \right\} \ast o^{l-1}\right)_{m'+H-k_1,\, n'+W-k_2}",
                T.eq14_corrected, V.eval_dw(T.eq14_corrected)),
            alternatives=(Alternative(
                "* as convolve2d mode='valid'", "* as scipy.signal.convolve2d(rot180{delta}, "
                "o, mode='valid'): the valid part, re-indexed from 0",
                V.eval_eq14_scipy_valid, standard=True),)),
        Entry(
            "eq15", 15, "delta = dE/dx (definition)", LATEX[15], T.eq15, V.eval_eq15,
            "dE/dx^l_ij is the partial derivative of E in x^l_ij, everything downstream of x^l "
            "recomputed and everything else held; taken by autograd on E, checked by central "
            "differences.",
            (FD_DX,), _seed_class(dx), DX_SETTING),
        Entry(
            "eq16", 16, "dE/dx as a sum over the region Q", LATEX[16], T.eq16,
            V.eval_chain(T.eq16),
            "Q: the output pixels from (i'-k1+1, j'-k2+1) to (i', j') that exist "
            "(0..H-k1 x 0..W-k2); H x W is x^l's size, k1 x k2 is w^{l+1}'s; delta^{l+1} = G; "
            "the Jacobian dx^{l+1}/dx^l from torch autograd (its formula is eq. 19).",
            (FD_DX, TORCH_DX), _seed_class(dx), DX_SETTING),
        Entry(
            "eq17", 17, "dE/dx as a sum over m, n", LATEX[17], T.eq17, V.eval_chain(T.eq17),
            f"delta^{{l+1}} and dx^{{l+1}}/dx^l at (i'-m, j'-n) are each {ZERO} (the output "
            "grid 0..H-k1 x 0..W-k2); the Jacobian from torch autograd.",
            (FD_DX, TORCH_DX), _seed_class(dx), DX_SETTING),
        Entry(
            "eq18", 18, "dx^{l+1}/dx^l of the forward sum", LATEX[18], T.eq18, V.eval_eq18,
            "(i'-m, j'-n) over the output grid; sum_m' sum_n' over w^{l+1}'s index range; "
            "o^l = f(x^l); the bracket is differentiated (autograd on the literal expression) "
            "in every x_i'j' at once, zero where x_i'j' is not in it.",
            JAC_X, _seed_class(dx), DX_SETTING),
        Entry(
            "eq19", 19, "dx^{l+1}/dx^l = w f'(x)", LATEX[19], T.eq19, V.eval_eq19,
            "for every (i', j') of x^l and (m, n) of w^{l+1} with (i'-m, j'-n) in the output "
            "grid (elsewhere the left-hand side does not exist); compared as the whole "
            "Jacobian, whose other entries are zero.",
            JAC_X, _seed_class(dx), DX_SETTING),
        Entry(
            "eq20", 20, "dE/dx as a sum with delta_{i'-m, j'-n}", LATEX[20], T.eq20,
            V.eval_dx(T.eq20),
            f"delta^{{l+1}} is {ZERO}, its (H-k1+1) x (W-k2+1) grid; (i', j') over x^l's "
            "H x W grid.",
            (FD_DX, TORCH_DX), _seed_class(dx), DX_SETTING),
        Entry(
            "eq21", 21, "dE/dx as rot180{correlation}", LATEX[21], T.eq21,
            V.eval_dx_map(T.eq21),
            f"the braced sum is a map over (i', j') in x^l's H x W grid, delta^{{l+1}} being "
            f"{ZERO}; rot180 flips that map; f'(x_i'j') then multiplies pixel by pixel "
            "(two other readings of rot180 are checked as alternatives).",
            (EQ20, TORCH_DX), _seed_class(dx), DX_SETTING,
            explain="the braced sum correlates delta with w; rotating the result moves delta, "
                    "not the kernel, so it is not eq. 20's convolution",
            corrected=Corrected(
                r"\frac{\partial E}{\partial x_{i',j'}^{l}} = \sum_{m = 0}^{k_1 - 1} "
                r"\sum_{n = 0}^{k_2 - 1} \delta^{l+1}_{i' - k_1 + 1 + m,\, j' - k_2 + 1 + n} "
                r"\, \text{rot}_{180^\circ}\left\{ w^{l+1} \right\}_{m,n} "
                r"f'\left(x_{i',j'}^{l}\right)", T.eq21_corrected, V.eval_dx(T.eq21_corrected)),
            alternatives=(
                Alternative("rot180 of a scalar as itself", "rot180 of the braced (scalar) "
                            "sum read as the sum unchanged", V.eval_dx(T.eq21_scalar)),
                Alternative("rot180 over the full correlation grid", "the braced map taken "
                            "over i' = -(k1-1)..H-k1, j' = -(k2-1)..W-k2 (where it can be "
                            "non-zero), rotated, laid on x^l's grid",
                            V.eval_dx_map(T.eq21_full_grid)))),
        Entry(
            "eq22", 22, "dE/dx as delta * rot180{w}", LATEX[22], T.eq22, V.eval_dx(T.eq22),
            f"(i', j') over x^l's H x W grid; {STAR}; rot180 flips w^{{l+1}}.",
            (EQ20, TORCH_DX), _seed_class(dx), DX_SETTING,
            explain="eq. 2's convolution already flips its kernel, so delta * rot180{w} is a "
                    "cross-correlation with w; eq. 20 is delta * w",
            corrected=Corrected(
                r"\frac{\partial E}{\partial x_{i',j'}^{l}} = \left(\delta^{l+1} \ast "
                r"w^{l+1}\right)_{i',j'} f'\left(x_{i',j'}^{l} \right)",
                T.eq22_corrected, V.eval_dx(T.eq22_corrected)),
            alternatives=(
                Alternative("* as correlate2d mode='full'", "* as the 'cross-correlation with "
                            "a flipped kernel' of the text before eq. 21: "
                            "scipy.signal.correlate2d(delta, rot180{w}, mode='full'), delta "
                            "zero-padded", V.eval_eq22_correlate_full),
                Alternative("* as convolve2d mode='valid'", "* as scipy.signal.convolve2d("
                            "delta, rot180{w}, mode='valid')", V.eval_eq22_convolve_valid,
                            standard=True))),
        Entry(
            "pool-max", None, "max-pooling routing", POOLING["pool-max"], P.pool_max_routing,
            V.eval_pool(P.pool_max_routing),
            "per window, in row-major order: its units are assigned (=, not +=) zero and its "
            "winning unit, the first maximal unit in row-major order as noted in the forward "
            "pass, is assigned the window's error.",
            _pool_oracles("max", "max_pool2d"), _pool_classes("ties"), POOL_SETTING,
            alternatives=(Alternative(
                "errors accumulated (+=)", "each window's error added (+=) to its winner "
                "instead of assigned, on overlapping windows",
                V.eval_pool(P.pool_max_accumulated), case_class=1),)),
        Entry(
            "pool-avg", None, "average-pooling routing", POOLING["pool-avg"],
            P.pool_avg_routing, V.eval_pool(P.pool_avg_routing),
            "per window, in row-major order: every unit is assigned (=, not +=) the window's "
            "error times 1/(N x N).",
            _pool_oracles("avg", "avg_pool2d"), _pool_classes("ties"), POOL_SETTING,
            alternatives=(Alternative(
                "errors accumulated (+=)", "delta / (N x N) added (+=) to every unit instead "
                "of assigned, on overlapping windows", V.eval_pool(P.pool_avg_accumulated),
                case_class=1),)),
        Entry(
            "pool-l2", None, "L2-norm pooling routing (derived)", POOLING["pool-l2"],
            P.pool_l2_routing, V.eval_pool(P.pool_l2_routing),
            "the seed names L2-norm pooling without a rule; the rule checked is the derivative "
            "of o = sqrt(sum of the block's squares): dx = delta * x / o, assigned per window "
            "like the seed's rules; where o = 0 it is 0/0, undefined (NaN).",
            _pool_oracles("l2", "lp_pool2d, p=2"), _pool_classes("zeros"), POOL_SETTING,
            alternatives=(
                Alternative("errors accumulated (+=)", "delta * x / o added (+=) instead of "
                            "assigned, on overlapping windows",
                            V.eval_pool(P.pool_l2_accumulated), case_class=1),
                Alternative("dx = 0 where o = 0", "dx = 0 for the units of a block with o = 0 "
                            "(torch's documented convention), on blocks of zeros",
                            V.eval_pool(P.pool_l2_zero_at_zero), case_class=2))),
    )


#: Every entry of the ledger, in the seed's order.
ENTRIES: tuple[Entry, ...] = _build()
ENTRY_IDS: tuple[str, ...] = tuple(e.id for e in ENTRIES)
