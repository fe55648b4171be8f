"""The Triton compositor (``tubelets.kernels``) against the reference, without a GPU.

Parity runs the kernel in Triton's interpreter on CPU tensors; the build check compiles
it for every arch of ``resources.ARCHS`` and reads registers and spills from the cubin. Triton decides
between interpreter and compiler when ``@triton.jit`` runs, reading ``TRITON_INTERPRET``,
so both cannot share one import of the kernel. The parity tests load a private copy of
``kernels/composite.py`` with the variable set, and the build check compiles in a child
process with it unset: each works whatever the environment pytest started in, and
neither changes the ``tubelets.kernels`` that other tests import.
"""
from __future__ import annotations

import functools
import importlib.util
import json
import math
import os
import types
from unittest import mock

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import tubelets.kernels
from helpers import SENTINEL, bits, hand_tubelets, huge_source_edge, kernel_params, paint_canvas, run_python
from tubelets import native, reference
from tubelets.params import compile_inv_affine, half_size_of

triton = pytest.importorskip("triton")
tl = pytest.importorskip("triton.language")
from tubelets.kernels import resources  # noqa: E402  (needs triton)

DTYPES = (torch.float32, torch.uint8, torch.float16, torch.bfloat16)
LAYOUTS = ("BCTHW", "BTCHW", "sliced")
# The kernel does the reference's float32 arithmetic in the reference's order, without
# contracted multiply-adds and with correctly rounded division and sqrt, so its results are
# the reference's bit for bit, interpreted or compiled for a GPU.
NEEDS_CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@functools.cache
def interpreted_module():
    """A private copy of ``kernels/composite.py`` whose kernels Triton's interpreter runs."""
    path = importlib.util.find_spec("tubelets.kernels.composite").origin
    spec = importlib.util.spec_from_file_location("_tubelets_composite_interpreted", path)
    module = importlib.util.module_from_spec(spec)
    with mock.patch.dict(os.environ, {"TRITON_INTERPRET": "1"}):
        spec.loader.exec_module(module)
    return module


def interpreted_paint_():
    """``paint_`` of :func:`interpreted_module`."""
    return interpreted_module().paint_


def video(shape, dtype, layout, generator):
    """A random ``shape`` video of ``dtype`` (floats in [0, 1]) whose ``(C, T)`` memory order
    is ``layout``; ``"sliced"`` leaves gaps between rows and pixels (no unit stride)."""
    *lead, channels, frames, height, width = shape
    if layout == "BTCHW":
        full = torch.rand(*lead, frames, channels, height, width, generator=generator).transpose(-3, -4)
    elif layout == "sliced":
        full = torch.rand(*lead, channels, frames, height + 1, 2 * width, generator=generator)
        full = full[..., 1:, ::2]
    else:
        full = torch.rand(*shape, generator=generator)
    if dtype == torch.uint8:
        return (full * 256).floor_().clamp_(max=255).to(dtype)
    return full.to(dtype)


def parameters(batch, tubelets, frames, height, width, source_shape, regime, generator):
    """The kernel's parameter tensors for random tubelets, made as the sampler makes them.

    ``regime`` picks the transforms: ``"moderate"`` (any rotation, scale 1/2…2, light shear),
    ``"extreme"`` (scale 1/100…100, strong shear), ``"degenerate"`` (maps with a zero 2×2
    part, which paint one source pixel over the whole frame, and maps ~1e20 times too
    large, which overflow).
    """
    def rand(*shape):
        return torch.rand(*shape, generator=generator)

    src_frames, src_height, src_width = source_shape
    size = torch.tensor([src_width, src_height])
    low = (rand(batch, tubelets, 2) * size).long()
    high = low + (rand(batch, tubelets, 2) * (size - low)).long()
    src_box = torch.cat([low, high], -1).int()
    src_frame = (rand(batch, tubelets) * src_frames).int()
    shape = (rand(batch, tubelets) * 3).int()
    softness = torch.where(rand(batch, tubelets) < 0.5, 0.0, rand(batch, tubelets) * 0.5)
    opacity = rand(batch, tubelets, frames)
    opacity = torch.where(rand(batch, tubelets, frames) < 0.4, 1.0, opacity)
    opacity = torch.where(rand(batch, tubelets, frames) < 0.1, 0.0, opacity)

    per_frame = (batch, tubelets, frames)
    spot = torch.where(rand(*per_frame, 1) < 0.8, rand(*per_frame, 2), rand(*per_frame, 2) * 2 - 0.5)
    centers = spot * torch.tensor([width, height])  # one in five anywhere, often off the frame
    angles = (rand(*per_frame) * 2 - 1) * 180
    spread = {"moderate": (math.log(2), 0.5), "extreme": (math.log(100), 3.0)}.get(regime, (0.0, 0.0))
    scales = torch.exp((rand(*per_frame, 2) * 2 - 1) * spread[0])
    shears = (rand(*per_frame, 2) * 2 - 1) * spread[1]
    inv_affine = compile_inv_affine(centers, half_size_of(src_box)[:, :, None], angles, scales, shears)
    if regime == "degenerate":
        flat = torch.zeros(*per_frame, 2, 3)
        flat[..., 2] = rand(*per_frame, 2) * 2 - 1
        huge = inv_affine * 1e20
        inv_affine = torch.where(rand(*per_frame, 1, 1) < 0.5, flat, huge)
    return inv_affine, opacity, src_box, src_frame, shape, softness


@st.composite
def scenes(draw):
    """Sizes, layouts, tubelet counts and a seed for the values; small, since the
    interpreter runs one NumPy program per tile."""
    dims = st.integers(1, 20)
    return {
        "copies": draw(st.integers(1, 3)),
        "batch": draw(st.integers(1, 2)),
        "channels": draw(st.sampled_from([3, 3, 1, 4])),
        "frames": draw(st.integers(1, 3)),
        "height": draw(dims),
        "width": draw(st.integers(1, 40)),  # one or two tiles across
        "source": (draw(st.integers(1, 3)), draw(dims), draw(dims)),
        "tubelets": draw(st.integers(0, 4)),
        "regime": draw(st.sampled_from(["moderate", "moderate", "extreme", "degenerate"])),
        "layouts": (draw(st.sampled_from(LAYOUTS)), draw(st.sampled_from(LAYOUTS))),
        "seed": draw(st.integers(0, 2**32 - 1)),
    }


def paint_both(scene, dtype, paint_):
    """``(reference result, paint_ result)`` for one scene."""
    generator = torch.Generator().manual_seed(scene["seed"])
    batch, channels, frames = scene["batch"], scene["channels"], scene["frames"]
    height, width = scene["height"], scene["width"]
    canvas_layout, source_layout = scene["layouts"]
    canvas = video((scene["copies"], batch, channels, frames, height, width), dtype, canvas_layout, generator)
    source = video((batch, channels, *scene["source"]), dtype, source_layout, generator)
    params = parameters(batch, scene["tubelets"], frames, height, width, scene["source"], scene["regime"],
                        generator)
    expected, actual = canvas.clone(), canvas.clone()
    paint_canvas(reference.paint_, expected, source, *params)
    paint_canvas(paint_, actual, source, *params)
    return expected, actual


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # the ~1e20 maps
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@given(scene=scenes())
def test_interpreter_matches_reference(dtype, scene):
    expected, actual = paint_both(scene, dtype, interpreted_paint_())
    assert torch.equal(bits(actual), bits(expected))


def kernel_args(tubes, height, width):
    """The parameter tensors of ``paint_`` for :class:`Tubelets` painted on ``height × width``."""
    return kernel_params(tubes)


def test_interpreter_known_answer():
    """A 5×3-pixel patch straddling two tiles; pixels with |u| = 1 are in, all others keep 0."""
    canvas = torch.zeros(2, 1, 3, 2, 9, 40)
    source = torch.arange(3 * 2 * 5 * 6, dtype=torch.float32).view(1, 3, 2, 5, 6)  # linear in x and y
    # Crop x 1..4, y 2..3 (centre (2.5, 2.5), half (2, 1)); in frame 1 u = ((x - 33) / 2, y - 4),
    # so x 31..35 and y 3..5, sampled at x - 30.5 and y - 1.5 clamped to the crop.
    tubes = hand_tubelets([[[1, 2, 4, 3]]], [[[[0.0, 0.0], [33.0, 4.0]]]], opacity=[0.0, 1.0], src_frame=1)
    paint_canvas(interpreted_paint_(), canvas, source, *kernel_args(tubes, 9, 40))
    sx = (torch.arange(31, 36) - 30.5).clamp(1, 4)
    sy = (torch.arange(3, 6) - 1.5).clamp(2, 3)[:, None]
    channel = torch.arange(3)[:, None, None]
    expected = torch.zeros_like(canvas)
    expected[:, 0, :, 1, 3:6, 31:36] = ((channel * 2 + 1) * 5 + sy) * 6 + sx
    assert torch.equal(canvas, expected)


@pytest.mark.parametrize(
    "dtype, before, patch, after",
    [
        (torch.uint8, 10, 11, 11),  # 10.5 rounds half up
        (torch.float16, 1 + 2**-10, 1 + 2**-9, 1 + 2**-9),  # ties to even, up
        (torch.float16, 1 + 2**-9, 1 + 3 * 2**-10, 1 + 2**-9),  # ties to even, down
        (torch.bfloat16, 1 + 2**-7, 1 + 2**-6, 1 + 2**-6),
        (torch.bfloat16, 1 + 2**-6, 1 + 3 * 2**-7, 1 + 2**-6),
    ],
    ids=str,
)
def test_interpreter_rounds_ties_like_reference(dtype, before, patch, after):
    """Half-opaque blends that land exactly between two values of the dtype."""
    canvas = torch.full((1, 1, 1, 1, 4, 4), before, dtype=dtype)
    source = torch.full((1, 1, 1, 4, 4), patch, dtype=dtype)
    params = kernel_args(hand_tubelets([[[0, 0, 3, 3]]], [[[[1.5, 1.5]]]], opacity=0.5), 4, 4)
    expected, actual = canvas.clone(), canvas.clone()
    paint_canvas(reference.paint_, expected, source, *params)
    paint_canvas(interpreted_paint_(), actual, source, *params)
    assert torch.equal(expected, torch.full_like(canvas, after))
    assert torch.equal(actual, expected)


def _bfloat16_each(values_ptr, out_ptr, count, BLOCK: tl.constexpr):
    """``out[i] = _quantise(values[i], bfloat16)``, float32 in and out (no bfloat16 store)."""
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < count
    tl.store(out_ptr + offsets, _quantise(tl.load(values_ptr + offsets, mask=mask), tl.bfloat16), mask=mask)


def quantise_to_bfloat16(values: torch.Tensor, where: str) -> torch.Tensor:
    """The float32 that ``kernels/composite.py``'s ``_quantise`` returns for each of ``values``,
    run by the interpreter or compiled for the GPU; ``values`` and the result are on the CPU."""
    if where == "interpreter":
        module, device, interpret = interpreted_module(), "cpu", "1"
    else:
        module, device, interpret = tubelets.kernels.composite, "cuda", ""
    # _bfloat16_each with _quantise bound to that module's function; jitted (or wrapped for
    # the interpreter) the way that module's kernels were.
    function = types.FunctionType(_bfloat16_each.__code__, {**globals(), "_quantise": module._quantise})
    environment = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    with mock.patch.dict(os.environ, {**environment, "TRITON_INTERPRET": interpret}, clear=True):
        kernel = triton.jit(function)
    inputs = values.to(device)
    out = torch.empty_like(inputs)
    kernel[(triton.cdiv(values.numel(), 1024),)](inputs, out, values.numel(), BLOCK=1024)
    return out.cpu()


def nan_probes() -> torch.Tensor:
    """float32 NaNs of every kind: the GPU's 0x7FFFFFFF, NumPy's 0x7FC00000, signalling ones,
    both signs, mantissas that carry when rounded, and random payloads."""
    named = [0x7FFFFFFF, 0xFFFFFFFF, 0x7F800001, 0xFF800001, 0x7FC00000, 0xFFC00000, 0x7FBFFFFF,
             0x7FFF8000, 0x7FFF7FFF, 0x7F808000, 0x7F80FFFF, 0x7FC08000, 0xFFFFFF00]
    generator = torch.Generator().manual_seed(9)
    mantissa = torch.randint(1, 2**23, (20_000,), generator=generator, dtype=torch.int64)
    sign = torch.randint(0, 2, (20_000,), generator=generator, dtype=torch.int64) << 31
    patterns = torch.cat([torch.tensor(named, dtype=torch.int64), sign | 0x7F800000 | mantissa])
    return patterns.to(torch.int32).view(torch.float32)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # signalling NaNs
@pytest.mark.skipif(native._C is None, reason=f"{native.CPU_UNAVAILABLE}")
@pytest.mark.parametrize("where", ["interpreter", pytest.param("cuda", marks=NEEDS_CUDA)])
def test_bfloat16_rounding_matches_the_cpp_backend(where):
    """``_quantise`` to bfloat16, bit for bit: the C++ rounding everywhere (a NaN stays a NaN,
    quieted, with its top bits), torch's cast where torch's result is defined (not NaN)."""
    generator = torch.Generator().manual_seed(10)
    ordinary = torch.randint(-(2**31), 2**31, (50_000,), generator=generator, dtype=torch.int64)
    ordinary = ordinary.to(torch.int32).view(torch.float32)
    values = torch.cat([nan_probes(), ordinary, torch.tensor([0.0, -0.0, math.inf, -math.inf, 3.4028235e38])])
    result = bits(quantise_to_bfloat16(values, where))
    expected = torch.empty(values.shape, dtype=torch.bfloat16)
    native._C.quantise("bfloat16", values.data_ptr(), expected.data_ptr(), values.numel())
    assert torch.equal(result & 0xFFFF, torch.zeros_like(result))  # the float32 of a bfloat16
    assert torch.equal((result >> 16).to(torch.int16), bits(expected))
    defined = ~torch.isnan(values)
    assert torch.equal((result[defined] >> 16).to(torch.int16), bits(values[defined].to(torch.bfloat16)))


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # signalling NaNs
@pytest.mark.parametrize("where", ["interpreter", pytest.param("cuda", marks=NEEDS_CUDA)])
@pytest.mark.parametrize("dtype, nans", [(torch.bfloat16, [0x7F81, 0x7FC5, -1]), (torch.float16, [0x7C01, 0x7E05, -1])],
                         ids=str)
def test_keeps_bits_it_does_not_paint(where, dtype, nans):
    """NaNs with payloads around a rotated opaque patch survive, in the tiles it touches too
    (a float round trip may quiet or drop payloads; NumPy keeps them, GPU conversions may not)."""
    canvas = torch.tensor(nans, dtype=torch.int16).repeat(2 * 9 * 40 // 3).view(dtype).view(1, 1, 2, 1, 9, 40)
    source = torch.rand(1, 2, 1, 6, 6).to(dtype)
    params = kernel_args(hand_tubelets([[[0, 0, 5, 5]]], [[[[30.0, 4.0]]]], angles=30.0), 9, 40)
    expected, actual = canvas.clone(), canvas.clone()
    paint_canvas(reference.paint_, expected, source, *params)
    paint_canvas(interpreted_paint_() if where == "interpreter" else paint_on_gpu_, actual, source, *params)
    assert not torch.equal(bits(expected), bits(canvas))
    assert torch.equal(bits(actual), bits(expected))


@pytest.mark.skipif(native._C is None, reason=f"{native.CPU_UNAVAILABLE}")
@pytest.mark.parametrize("axis", ["x", "y"])
def test_interpreter_huge_source_edge_matches_cpp(axis):
    """A crop ending at the last column (row) of a source 2**24 + 4 pixels across: the kernel
    reads inside the crop (not the column past the source) and agrees with the C++ backend."""
    canvas, source, params = huge_source_edge(axis)
    expected, actual = canvas.clone(), canvas.clone()
    paint_canvas(native.paint_cpu_, expected, source, *params)
    assert expected.any() and expected.max() < SENTINEL - 56  # painted, from the source's pixels
    paint_canvas(interpreted_paint_(), actual, source, *params)
    assert torch.equal(actual, expected)




@functools.cache
def resource_table() -> list[dict]:
    """:func:`tubelets.kernels.resources.table`, computed in a process that compiles."""
    child = run_python("import json; from tubelets.kernels import resources; print(json.dumps(resources.table()))")
    if child.returncode:
        pytest.fail(f"compiling the Triton kernel failed:\n{child.stderr}")
    return json.loads(child.stdout)


@pytest.mark.parametrize("arch", [f"sm_{arch}" for arch in resources.ARCHS])
@pytest.mark.parametrize("dtype", ["uint8", "float16", "bfloat16", "float32"])
def test_compiles_without_spills(dtype, arch):
    rows = [r for r in resource_table() if r["dtype"] == dtype and r["arch"] == arch]
    assert rows
    for row in rows:
        assert row["stack"] == 0 and row["local"] == 0, row
        assert 0 < row["registers"] <= 128, row  # keeps ≥ 4 blocks of 128 threads per SM


def test_import_without_triton():
    """``tubelets.kernels`` imports without Triton, and says why it cannot paint."""
    code = (
        "import sys; sys.modules['triton'] = None\n"
        "import torch, tubelets.kernels as k\n"
        "assert 'triton cannot be imported' in k.TRITON_UNAVAILABLE, k.TRITON_UNAVAILABLE\n"
        "assert k.unavailable(torch.device('cuda')) == k.TRITON_UNAVAILABLE\n"
        "try:\n    k.paint_triton_(*[None] * 9)\nexcept RuntimeError as e:\n    assert 'unavailable' in str(e)\n"
        "else:\n    raise AssertionError('paint_triton_ ran without triton')\n"
    )
    child = run_python(code)
    assert child.returncode == 0, child.stderr


def on_cuda_with_strides(tensor):
    """A CUDA copy of ``tensor`` with its strides (its whole storage is copied)."""
    storage = torch.empty(0, dtype=tensor.dtype).set_(tensor.untyped_storage())
    return storage.cuda().as_strided(tensor.shape, tensor.stride(), tensor.storage_offset())


def paint_on_gpu_(outs, ins, source, *params):
    """``tubelets.kernels.paint_triton_`` on CUDA copies of CPU tensors, strides kept."""
    outs_gpu = [on_cuda_with_strides(out) for out in outs]
    ins_gpu = [outs_gpu[p] if video is outs[p] else on_cuda_with_strides(video) for p, video in enumerate(ins)]
    tubelets.kernels.paint_triton_(outs_gpu, ins_gpu, on_cuda_with_strides(source), *(p.cuda() for p in params))
    for out, out_gpu in zip(outs, outs_gpu):
        out.copy_(out_gpu)


@NEEDS_CUDA
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@given(scene=scenes())
def test_gpu_matches_reference(dtype, scene):
    expected, actual = paint_both(scene, dtype, paint_on_gpu_)
    assert torch.equal(bits(actual), bits(expected))
