"""The numpy reference (``reference/``) against torch.nn.functional, op by op and end to end."""
from __future__ import annotations

import inspect
import zlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from numpy.testing import assert_allclose, assert_array_equal

import reference as R
from gradcheck.ops import PROTOCOL, SPECS

F64 = {"rtol": 1e-11, "atol": 1e-12}
F32 = {"rtol": 2e-4, "atol": 2e-5}


@pytest.fixture(scope="module", autouse=True)
def _torch_single_thread():
    """Tiny tensors: torch's worker threads only add wake-up latency (restored afterwards)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def rng_for(name: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(name.encode()))


def t64(a: np.ndarray, grad: bool = True) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def torch_grads(out: torch.Tensor, leaves: list[torch.Tensor], delta: np.ndarray) -> list[np.ndarray]:
    grads = torch.autograd.grad(out, leaves, torch.tensor(delta))
    return [g.numpy() for g in grads]


# ---------------------------------------------------------------------------------------------
# protocol
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("op", list(PROTOCOL.values()), ids=lambda p: p.name)
def test_every_protocol_op_is_exported_with_its_signature(op):
    for name, inputs in ((op.forward_name, op.inputs), (op.backward_name, ("delta", *op.inputs))):
        assert name in R.__all__
        params = inspect.signature(getattr(R, name)).parameters
        positional = [p for p, v in params.items() if v.kind is v.POSITIONAL_OR_KEYWORD]
        keyword = {p for p, v in params.items() if v.kind is v.KEYWORD_ONLY}
        assert tuple(positional) == inputs + op.labels
        assert set(op.params) <= keyword


# ---------------------------------------------------------------------------------------------
# conv2d
# ---------------------------------------------------------------------------------------------

# id: (x shape, w shape, stride, padding, dilation)
CONV_CASES = {
    "batch1-3x3": ((1, 1, 5, 5), (1, 1, 3, 3), 1, 0, 1),
    "batch3-channels-filters-pad1": ((3, 2, 6, 7), (4, 2, 3, 3), 1, 1, 1),
    "1x1-kernel": ((2, 3, 4, 5), (2, 3, 1, 1), 1, 0, 1),
    "kernel-as-large-as-padded-input": ((1, 2, 3, 4), (2, 2, 5, 6), 1, 1, 1),
    "stride-gt-kernel": ((2, 1, 9, 9), (2, 1, 2, 2), 3, 0, 1),
    "dilation": ((1, 2, 9, 8), (3, 2, 3, 2), 1, 0, (2, 3)),
    "nonsquare-everything": ((2, 2, 9, 7), (3, 2, 3, 2), (2, 1), (1, 0), (1, 2)),
    "uncovered-last-row-col": ((1, 1, 8, 8), (1, 1, 3, 3), 2, 0, 1),
    "padding-beyond-kernel-extent": ((1, 1, 3, 3), (1, 1, 2, 2), 1, 2, 1),
    "stride-pad-dilation": ((2, 3, 10, 11), (2, 3, 3, 3), 2, 2, 2),
}


@pytest.mark.parametrize("case", list(CONV_CASES), ids=str)
def test_conv2d_matches_torch(case):
    xs, ws, stride, padding, dilation = CONV_CASES[case]
    rng = rng_for(case)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    hyper = {"stride": stride, "padding": padding, "dilation": dilation}
    xt, wt, bt = t64(x), t64(w), t64(b)
    ot = F.conv2d(xt, wt, bt, **hyper)
    o = R.conv2d_forward(x, w, b, **hyper)
    assert_allclose(o, ot.detach().numpy(), **F64)
    delta = rng.standard_normal(o.shape)
    grads = R.conv2d_backward(delta, x, w, b, **hyper)
    for mine, theirs in zip(grads, torch_grads(ot, [xt, wt, bt], delta)):
        assert mine.shape == theirs.shape
        assert_allclose(mine, theirs, **F64)


def test_conv2d_uncovered_input_gets_zero_gradient():
    rng = rng_for("uncovered")
    x, w, b = rng.standard_normal((1, 1, 8, 8)), rng.standard_normal((1, 1, 3, 3)), np.zeros(1)
    delta = rng.standard_normal((1, 1, 3, 3))
    dx, _, _ = R.conv2d_backward(delta, x, w, b, stride=2)
    assert_array_equal(dx[..., 7, :], 0.0)
    assert_array_equal(dx[..., :, 7], 0.0)
    assert np.all(dx[..., :7, :7] != 0.0)


def test_conv2d_stride1_matches_eq13_and_eq20_written_out():
    """Single channel, stride 1: dw by eq. 13 and dx by eq. 20 (with f' = 1), sums as printed."""
    rng = rng_for("eq13-eq20")
    h, wd, k1, k2 = 6, 5, 3, 2
    x, w = rng.standard_normal((1, 1, h, wd)), rng.standard_normal((1, 1, k1, k2))
    delta = rng.standard_normal((1, 1, h - k1 + 1, wd - k2 + 1))
    dx, dw, _ = R.conv2d_backward(delta, x, w, np.zeros(1))
    d = delta[0, 0]
    dw13 = np.array(
        [[np.sum(d * x[0, 0, m : m + d.shape[0], n : n + d.shape[1]]) for n in range(k2)] for m in range(k1)]
    )
    assert_allclose(dw[0, 0], dw13, **F64)
    dfull = np.pad(d, ((k1 - 1, k1 - 1), (k2 - 1, k2 - 1)))  # delta_{i'-m, j'-n}, 0 outside
    dx20 = sum(
        dfull[k1 - 1 - m : k1 - 1 - m + h, k2 - 1 - n : k2 - 1 - n + wd] * w[0, 0, m, n]
        for m in range(k1)
        for n in range(k2)
    )
    assert_allclose(dx[0, 0], dx20, **F64)


def test_conv2d_int_and_pair_hyperparameters_agree():
    rng = rng_for("pairs")
    x, w, b = rng.standard_normal((1, 2, 7, 7)), rng.standard_normal((2, 2, 3, 3)), rng.standard_normal(2)
    a = R.conv2d_forward(x, w, b, stride=2, padding=1, dilation=2)
    p = R.conv2d_forward(x, w, b, stride=(2, 2), padding=(1, 1), dilation=(2, 2))
    assert_array_equal(a, p)


@pytest.mark.parametrize(
    "kwargs",
    [{"stride": 0}, {"padding": -1}, {"dilation": 0}, {"stride": (1, 2, 3)}, {"stride": 1.5}],
    ids=["stride0", "negative-padding", "dilation0", "triple", "float"],
)
def test_conv2d_rejects_bad_hyperparameters(kwargs):
    x, w, b = np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 2, 2)), np.zeros(1)
    with pytest.raises(ValueError):
        R.conv2d_forward(x, w, b, **kwargs)


def test_conv2d_rejects_mismatched_shapes():
    with pytest.raises(ValueError):
        R.conv2d_forward(np.zeros((1, 2, 4, 4)), np.zeros((1, 3, 2, 2)), np.zeros(1))
    with pytest.raises(ValueError):
        R.conv2d_forward(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 3, 3)), np.zeros(1))
    with pytest.raises(ValueError):
        R.conv2d_backward(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 2, 2)), np.zeros(1))


# ---------------------------------------------------------------------------------------------
# activations and conv + activation layers
# ---------------------------------------------------------------------------------------------

TORCH_ACT = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}


@pytest.mark.parametrize("name", list(TORCH_ACT))
def test_activation_matches_torch(name):
    rng = rng_for(name)
    x = np.concatenate([rng.standard_normal(40) * 3, [0.0, -0.0, 30.0, -30.0, 700.0, -700.0]])
    x = x.reshape(2, 1, 1, 23)
    fwd, bwd = getattr(R, f"{name}_forward"), getattr(R, f"{name}_backward")
    xt = t64(x)
    ot = TORCH_ACT[name](xt)
    assert_allclose(fwd(x), ot.detach().numpy(), **F64)
    delta = rng.standard_normal(x.shape)
    assert_allclose(bwd(delta, x), torch_grads(ot, [xt], delta)[0], **F64)
    f, fprime = R.ACTIVATIONS[name]
    assert_allclose(f(x), fwd(x), **F64)
    assert_allclose(delta * fprime(x), bwd(delta, x), **F64)


def test_relu_subgradient_at_zero_is_zero():
    assert_array_equal(R.relu_backward(np.ones(3), np.array([-1.0, 0.0, 1.0])), [0.0, 0.0, 1.0])


@pytest.mark.parametrize("name", list(TORCH_ACT))
def test_conv2d_activation_layer_matches_torch(name):
    rng = rng_for("layer-" + name)
    x, w, b = rng.standard_normal((2, 2, 7, 6)), rng.standard_normal((3, 2, 3, 2)), rng.standard_normal(3)
    hyper = {"stride": (2, 1), "padding": 1, "dilation": (1, 2)}
    xt, wt, bt = t64(x), t64(w), t64(b)
    ot = TORCH_ACT[name](F.conv2d(xt, wt, bt, **hyper))
    o = getattr(R, f"conv2d_{name}_forward")(x, w, b, **hyper)
    assert_allclose(o, ot.detach().numpy(), **F64)
    delta = rng.standard_normal(o.shape)
    grads = getattr(R, f"conv2d_{name}_backward")(delta, x, w, b, **hyper)
    for mine, theirs in zip(grads, torch_grads(ot, [xt, wt, bt], delta)):
        assert_allclose(mine, theirs, **F64)


@pytest.mark.parametrize(
    "hyper",
    [{}, {"stride": 2, "padding": 1}, {"stride": (1, 2), "padding": (0, 1), "dilation": (2, 1)}],
    ids=["stride1", "stride2-pad1", "nonsquare"],
)
@pytest.mark.parametrize("name", list(TORCH_ACT))
def test_layer_delta_is_eq22_times_fprime(name, hyper):
    """delta^l = dE/dx^l where x^{l+1} = conv(f(x^l)) and dE/dx^{l+1} = delta^{l+1}."""
    rng = rng_for(f"delta-{name}-{sorted(hyper.items())}")
    x_l = rng.standard_normal((2, 3, 7, 8))
    x_l[0, 0, 0, :2] = 0.0  # exactly on ReLU's kink
    w_next, b_next = rng.standard_normal((2, 3, 3, 2)), rng.standard_normal(2)
    xt = t64(x_l)
    z = F.conv2d(TORCH_ACT[name](xt), t64(w_next, False), t64(b_next, False), **hyper)
    delta_next = rng.standard_normal(tuple(z.shape))
    expected = torch_grads(z, [xt], delta_next)[0]
    got = R.layer_delta(delta_next, w_next, x_l, activation=name, **hyper)
    assert_allclose(got, expected, **F64)


# ---------------------------------------------------------------------------------------------
# pooling
# ---------------------------------------------------------------------------------------------

# id: (x shape, kernel_size, stride, padding)
POOL_CASES = {
    "2x2-batch1": ((1, 1, 4, 4), 2, None, 0),
    "overlap-3s1-batch2": ((2, 3, 6, 5), 3, 1, 0),
    "overlap-3s2": ((2, 2, 9, 9), 3, 2, 0),
    "nonsquare-overlap": ((2, 2, 7, 9), (2, 3), (1, 2), 0),
    "stride-gt-kernel": ((1, 2, 9, 10), 2, 3, 0),
    "padding": ((2, 1, 6, 7), 3, 2, 1),
    "nonsquare-padding": ((1, 2, 7, 6), (3, 2), (2, 1), (1, 1)),
    "uncovered-last-row-col": ((1, 1, 7, 7), 2, 2, 0),
    "window-is-whole-input": ((2, 1, 3, 4), (3, 4), None, 0),
    "1x1": ((1, 2, 3, 3), 1, 1, 0),
    "1x1-stride-gt-1": ((2, 1, 7, 8), 1, (2, 3), 0),
    "odd-width-stride": ((2, 2, 8, 7), (2, 2), (2, 3), (1, 0)),
}


def torch_l2(x: torch.Tensor, kernel_size, stride, padding) -> torch.Tensor:
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    return F.lp_pool2d(F.pad(x, (pw, pw, ph, ph)), 2, kernel_size, stride)


TORCH_POOL = {
    "max": lambda x, k, s, p: F.max_pool2d(x, k, s, p),
    "avg": lambda x, k, s, p: F.avg_pool2d(x, k, s, p),
    "l2": torch_l2,
}


@pytest.mark.parametrize("case", list(POOL_CASES), ids=str)
@pytest.mark.parametrize("mode", list(TORCH_POOL))
def test_pooling_matches_torch(mode, case):
    xs, k, s, p = POOL_CASES[case]
    rng = rng_for(mode + case)
    x = rng.standard_normal(xs)
    hyper = {"kernel_size": k, "stride": s, "padding": p}
    xt = t64(x)
    ot = TORCH_POOL[mode](xt, k, s if s is not None else k, p)
    o = getattr(R, f"{mode}_pool2d_forward")(x, **hyper)
    assert_allclose(o, ot.detach().numpy(), **F64)
    delta = rng.standard_normal(o.shape)
    dx = getattr(R, f"{mode}_pool2d_backward")(delta, x, **hyper)
    assert dx.shape == x.shape
    assert_allclose(dx, torch_grads(ot, [xt], delta)[0], **F64)


@pytest.mark.parametrize("case", ["overlap-3s1-batch2", "padding", "nonsquare-padding", "odd-width-stride"])
def test_max_pool_winners_match_torch_indices(case):
    xs, k, s, p = POOL_CASES[case]
    x = rng_for("ix" + case).integers(0, 3, xs).astype(np.float64)  # many ties
    o, idx = R.max_pool2d_forward(x, kernel_size=k, stride=s, padding=p, return_indices=True)
    ot, it = F.max_pool2d(torch.tensor(x), k, s if s is not None else k, p, return_indices=True)
    assert_array_equal(o, ot.numpy())
    assert_array_equal(idx, it.numpy())
    assert_array_equal(R.max_pool2d_winners(x, kernel_size=k, stride=s, padding=p), idx)


def test_max_pool_nan_wins_its_window_like_torch():
    x = rng_for("nan").integers(0, 3, (2, 2, 7, 8)).astype(np.float64)
    x[0, 0, 1, 1] = x[0, 0, 1, 2] = x[1, 1, 5, 0] = np.nan
    hyper = {"kernel_size": 3, "stride": (2, 1), "padding": 1}
    o, idx = R.max_pool2d_forward(x, return_indices=True, **hyper)
    ot, it = F.max_pool2d(torch.tensor(x), 3, (2, 1), 1, return_indices=True)
    assert_array_equal(o, ot.numpy())
    assert_array_equal(idx, it.numpy())


@pytest.mark.parametrize("case", ["2x2-batch1", "overlap-3s1-batch2", "overlap-3s2", "padding"])
def test_max_pool_ties_route_each_window_delta_to_exactly_one_unit(case):
    xs, k, s, p = POOL_CASES[case]
    x = np.zeros(xs)  # every window is one big tie
    hyper = {"kernel_size": k, "stride": s, "padding": p}
    o = R.max_pool2d_forward(x, **hyper)
    winners = R.max_pool2d_winners(x, **hyper)
    for flat in range(o.size):  # one window at a time: a one-hot delta
        delta = np.zeros(o.size)
        delta[flat] = 1.0
        dx = R.max_pool2d_backward(delta.reshape(o.shape), x, **hyper)
        assert np.count_nonzero(dx) == 1
        n, c = np.unravel_index(flat, o.shape)[:2]
        assert dx[n, c].reshape(-1)[winners.reshape(-1)[flat]] == 1.0
    # the first element of the window (row-major) wins: torch's convention
    xt = t64(x)
    ot = F.max_pool2d(xt, k, s if s is not None else k, p)
    delta = rng_for("ties" + case).standard_normal(o.shape)
    assert_array_equal(R.max_pool2d_backward(delta, x, **hyper), torch_grads(ot, [xt], delta)[0])


def test_l2_pool_subgradient_is_zero_on_an_all_zero_window():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 2:, 2:] = [[1.0, -2.0], [0.5, 3.0]]
    delta = np.ones((1, 1, 2, 2))
    dx = R.l2_pool2d_backward(delta, x, kernel_size=2)
    assert np.all(np.isfinite(dx))
    assert_array_equal(dx[0, 0, :2, :], 0.0)
    assert_array_equal(dx[0, 0, 2:, :2], 0.0)
    assert_allclose(dx[0, 0, 2:, 2:], x[0, 0, 2:, 2:] / np.sqrt(14.25), **F64)


@pytest.mark.parametrize("mode", list(TORCH_POOL))
def test_pooling_rejects_padding_over_half_the_kernel(mode):
    with pytest.raises(ValueError):
        getattr(R, f"{mode}_pool2d_forward")(np.zeros((1, 1, 6, 6)), kernel_size=2, padding=2)


# ---------------------------------------------------------------------------------------------
# loss and dense
# ---------------------------------------------------------------------------------------------


def test_mse_matches_half_sum_of_squares():
    rng = rng_for("mse")
    y, t = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    yt = t64(y)
    et = 0.5 * ((torch.tensor(t) - yt) ** 2).sum()
    e = R.mse_forward(y, t)
    assert e.shape == ()
    assert_allclose(e, et.item(), **F64)
    expected = 2.5 * torch_grads(et, [yt], np.asarray(1.0))[0]
    assert_allclose(R.mse_backward(np.asarray(2.5), y, t), expected, **F64)


@pytest.mark.parametrize("shape", [(1, 1, 1), (4, 7, 3)], ids=["batch1-scalar", "batch4"])
def test_dense_matches_torch_linear(shape):
    n, f, k = shape
    rng = rng_for(f"dense{shape}")
    x, w, b = rng.standard_normal((n, f)), rng.standard_normal((k, f)), rng.standard_normal(k)
    xt, wt, bt = t64(x), t64(w), t64(b)
    ot = F.linear(xt, wt, bt)
    assert_allclose(R.dense_forward(x, w, b), ot.detach().numpy(), **F64)
    delta = rng.standard_normal((n, k))
    for mine, theirs in zip(R.dense_backward(delta, x, w, b), torch_grads(ot, [xt, wt, bt], delta)):
        assert_allclose(mine, theirs, **F64)


# ---------------------------------------------------------------------------------------------
# dtype and purity, over every protocol op
# ---------------------------------------------------------------------------------------------


def protocol_calls(rng: np.random.Generator, dtype) -> dict[str, tuple[tuple, tuple, dict]]:
    """For every op: (forward arrays, label arrays, hyper-parameters), small and generic, drawn
    from the op's own geometry with a seeded generator (hyper-parameters as the native adapter
    passes them)."""

    def pick(lo: int, hi: int) -> int:
        return int(rng.integers(lo, hi + 1))

    calls = {}
    for op, spec in SPECS.items():
        geometry = None
        while geometry is None:
            geometry = spec.geometry(pick, **spec.family.small)
        shapes, params = geometry
        arrays = tuple(rng.standard_normal(shapes[k]).astype(dtype) for k in spec.inputs)
        calls[op] = arrays, spec.protocol.call_labels(params), spec.protocol.call_kwargs(params)
    assert set(calls) == set(PROTOCOL)
    return calls


@pytest.mark.parametrize("op", list(PROTOCOL))
def test_float32_in_float32_out_and_close_to_float64(op):
    rng = rng_for("f32" + op)
    args32, labels, hyper = protocol_calls(rng, np.float32)[op]
    fwd, bwd = getattr(R, PROTOCOL[op].forward_name), getattr(R, PROTOCOL[op].backward_name)
    o32 = fwd(*args32, *labels, **hyper)
    assert o32.dtype == np.float32
    delta = rng.standard_normal(o32.shape).astype(np.float32)
    grads32 = bwd(delta, *args32, *labels, **hyper)
    grads32 = grads32 if isinstance(grads32, tuple) else (grads32,)
    assert len(grads32) == len(PROTOCOL[op].grads)
    assert all(g.dtype == np.float32 for g in grads32)
    args64 = tuple(x.astype(np.float64) for x in args32)
    assert_allclose(o32, fwd(*args64, *labels, **hyper), **F32)
    grads64 = bwd(delta.astype(np.float64), *args64, *labels, **hyper)
    grads64 = grads64 if isinstance(grads64, tuple) else (grads64,)
    for g32, g64 in zip(grads32, grads64):
        assert g64.dtype == np.float64
        assert_allclose(g32, g64, **F32)


@pytest.mark.parametrize("op", list(PROTOCOL))
def test_inputs_are_never_modified(op):
    rng = rng_for("pure" + op)
    args, labels, hyper = protocol_calls(rng, np.float64)[op]
    fwd, bwd = getattr(R, PROTOCOL[op].forward_name), getattr(R, PROTOCOL[op].backward_name)
    o = fwd(*args, *labels, **hyper)
    delta = rng.standard_normal(o.shape)
    copies = [x.copy() for x in (delta, *args, *labels)]
    for x in (delta, *args, *labels):
        x.flags.writeable = False  # an in-place write would raise
    o2 = fwd(*args, *labels, **hyper)
    grads = bwd(delta, *args, *labels, **hyper)
    for x, c in zip((delta, *args, *labels), copies):
        assert_array_equal(x, c)
    outputs = [o2, *(grads if isinstance(grads, tuple) else (grads,))]
    for out in outputs:  # results are fresh arrays, never views of an input
        assert out.flags.writeable or out.ndim == 0
        assert not any(np.shares_memory(out, x) for x in (delta, *args, *labels))


# ---------------------------------------------------------------------------------------------
# the whole network
# ---------------------------------------------------------------------------------------------


def torch_network(net: R.Network, x: np.ndarray, t: np.ndarray):
    """Mirror ``net`` in torch; return (E, input leaf, per-layer outputs, per-layer param leaves)."""
    xt = t64(x)
    o, outs, params = xt, [], []
    for layer in net.layers:
        p = {}
        if isinstance(layer, R.ConvLayer):
            p = {"dw": t64(layer.w), "db": t64(layer.b)}
            hyper = {"stride": layer.stride, "padding": layer.padding, "dilation": layer.dilation}
            o = F.conv2d(o, p["dw"], p["db"], **hyper)
        elif isinstance(layer, R.ActivationLayer):
            o = TORCH_ACT[layer.name](o)
        elif isinstance(layer, R.PoolLayer):
            s = layer.stride if layer.stride is not None else layer.kernel_size
            o = TORCH_POOL[layer.mode](o, layer.kernel_size, s, layer.padding)
        elif isinstance(layer, R.FlattenLayer):
            o = o.reshape(o.shape[0], -1)
        elif isinstance(layer, R.DenseLayer):
            p = {"dw": t64(layer.w), "db": t64(layer.b)}
            o = F.linear(o, p["dw"], p["db"])
        o.retain_grad()
        outs.append(o)
        params.append(p)
    e = 0.5 * ((torch.tensor(t) - o) ** 2).sum()
    e.backward()
    return e, xt, outs, params


def deep_network(rng: np.random.Generator) -> tuple[R.Network, np.ndarray, np.ndarray]:
    """conv -> tanh -> conv (stride 2, pad 1) -> relu -> overlapping avg pool -> l2 pool -> dense."""
    n = rng.standard_normal
    net = R.Network(
        [
            R.ConvLayer(0.5 * n((3, 2, 3, 3)), n(3)),
            R.ActivationLayer("tanh"),
            R.ConvLayer(0.3 * n((4, 3, 3, 2)), n(4), stride=2, padding=1, dilation=(1, 2)),
            R.ActivationLayer("relu"),
            R.PoolLayer("avg", kernel_size=2, stride=1),
            R.PoolLayer("l2", kernel_size=(2, 1)),
            R.FlattenLayer(),
            R.DenseLayer(0.2 * n((3, 32)), n(3)),
        ]
    )
    return net, n((2, 2, 12, 12)), n((2, 3))


@pytest.mark.parametrize("build", ["make_network", "deep_network"])
def test_network_gradients_match_torch_layer_by_layer(build):
    rng = rng_for(build)
    net, x, t = R.make_network(rng) if build == "make_network" else deep_network(rng)
    e = net.forward(x, t)
    grads = net.backward()
    et, xt, outs, params = torch_network(net, x, t)
    assert_allclose(e, et.item(), **F64)
    assert [g["kind"] for g in grads] == [layer.kind for layer in net.layers]
    for g, out, p in zip(grads, outs, params):
        assert_allclose(g["delta"], out.grad.numpy(), **F64)
        for name, leaf in p.items():
            assert_allclose(g[name], leaf.grad.numpy(), **F64)
    assert_allclose(grads[0]["dx"], xt.grad.numpy(), **F64)


def test_network_conv_deltas_follow_layer_delta():
    """The delta reaching conv layer 1 is eq. 22 applied to conv layer 2's delta, times f'."""
    net, x, t = deep_network(rng_for("layer-delta-network"))
    net.forward(x, t)
    grads = net.backward()
    conv2 = net.layers[2]
    x1 = net.layers[0].forward(x)  # layer 1's pre-activation
    expected = R.layer_delta(
        grads[2]["delta"], conv2.w, x1, activation="tanh",
        stride=conv2.stride, padding=conv2.padding, dilation=conv2.dilation,
    )
    assert_allclose(grads[0]["delta"], expected, **F64)


def test_make_network_shapes_and_float32():
    net, x, t = R.make_network(np.random.default_rng(0), dtype=np.float32)
    assert x.shape == (2, 1, 8, 8) and t.shape == (2, 3)
    e = net.forward(x, t)
    assert e.dtype == np.float32
    grads = net.backward()
    assert grads[0]["dw"].shape == (2, 1, 3, 3) and grads[-1]["dw"].shape == (3, 18)
    assert all(g["dx"].dtype == np.float32 for g in grads)
