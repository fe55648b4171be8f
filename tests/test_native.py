"""The C++ CPU backend (``tubelets._C``) against the reference, on the same inputs.

Every dtype must match bit for bit: both evaluate the same float32 expressions in the same
order, and both take correctly rounded square roots (C's ``sqrtf``; the reference rounds
a float64 root, since torch's float32 ``sqrt`` on CPU is not correctly rounded).
"""
from __future__ import annotations

import ctypes
import math
import mmap
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from tubelets import native, reference
from helpers import assert_same_bits, paint_canvas, run_python
from tubelets.params import compile_inv_affine

pytestmark = pytest.mark.skipif(native._C is None, reason=f"{native.CPU_UNAVAILABLE}")


@pytest.fixture(scope="module", autouse=True, params=native._C.simds() if native._C else ["none"])
def simd(request):
    """Every test of this file with each kernel this CPU can paint spans with: the portable
    passes and, where the CPU has them, the AVX2 and AVX-512 kernels (the widest is the
    default)."""
    if native._C is None:
        yield request.param
        return
    default = native._C.simd()
    native._C.set_simd(request.param)
    yield request.param
    native._C.set_simd(default)

DTYPES = (torch.uint8, torch.float16, torch.bfloat16, torch.float32)
LAYOUTS = ("contiguous", "frames_major", "channels_last", "sliced")
def stored_as(values: torch.Tensor, layout: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(tensor, buffer)``: a copy of ``values`` ``(..., C, T, H, W)`` in ``layout``, and the
    memory holding it (the tensor itself, or for ``sliced`` the larger buffer it is a window of).
    Always a copy (``.contiguous()`` would return a view where sizes of 1 make it contiguous)."""
    if layout == "contiguous":
        tensor = values.clone()
    elif layout == "frames_major":  # stored (..., T, C, H, W), e.g. from a video decoder
        tensor = values.transpose(-4, -3).clone(memory_format=torch.contiguous_format).transpose(-4, -3)
    elif layout == "channels_last":  # stored (..., T, H, W, C): torch.channels_last_3d
        tensor = values.movedim(-4, -1).clone(memory_format=torch.contiguous_format).movedim(-1, -4)
    else:  # every 2nd row and 3rd column of a larger, offset buffer
        height, width = values.shape[-2:]
        shape = (*values.shape[:-2], 2 * height + 3, 3 * width + 2)
        buffer = torch.full(shape, 7, dtype=values.dtype)
        tensor = buffer[..., 1::2, 2::3][..., :height, :width]
        tensor.copy_(values)
        return tensor, buffer
    return tensor, tensor


def random_values(generator: torch.Generator, shape, dtype: torch.dtype) -> torch.Tensor:
    if dtype == torch.uint8:
        return torch.randint(0, 256, shape, generator=generator, dtype=dtype)
    return (torch.randn(shape, generator=generator) * 64).to(dtype)


def random_params(generator, batch, count, frames, height, width, source_size, *, extreme=False):
    """Valid ``(inv_affine, opacity, src_box, src_frame, shape, softness)``.

    ``extreme`` draws scales of 0.01 to 100, turns of ±720°, shears of ±10 and centres far
    off the frame, mixed with ordinary values.
    """
    def uniform(low, high, *shape):
        return low + (high - low) * torch.rand(*shape, generator=generator)

    def pick(choices, *shape):
        index = torch.randint(0, len(choices), shape, generator=generator)
        return torch.tensor(choices, dtype=torch.float32)[index]

    source_height, source_width = source_size
    x0 = torch.randint(0, source_width, (batch, count), generator=generator)
    y0 = torch.randint(0, source_height, (batch, count), generator=generator)
    x1 = x0 + (torch.rand(batch, count, generator=generator) * (source_width - x0)).long()
    y1 = y0 + (torch.rand(batch, count, generator=generator) * (source_height - y0)).long()
    src_box = torch.stack([x0, y0, x1, y1], -1).int()
    frame = torch.tensor([width, height], dtype=torch.float32)
    motion = (batch, count, frames)
    if extreme:
        centers = uniform(-1.0, 2.0, *motion, 2) * frame
        angles = uniform(-720.0, 720.0, *motion)
        scales = pick([0.01, 0.1, 1.0, 10.0, 100.0], *motion, 2)
        shears = pick([-10.0, -1.0, 0.0, 0.5, 10.0], *motion, 2)
    else:
        centers = uniform(-0.2, 1.2, *motion, 2) * frame
        angles = uniform(-180.0, 180.0, *motion)
        scales = torch.exp(0.5 * torch.randn(*motion, 2, generator=generator))
        shears = 0.3 * torch.randn(*motion, 2, generator=generator)
    half_size = (src_box[..., 2:] - src_box[..., :2] + 1).float()[:, :, None] / 2
    inv_affine = compile_inv_affine(centers, half_size, angles, scales, shears)
    opacity = torch.rand(motion, generator=generator)
    opacity = torch.where(torch.rand(motion, generator=generator) < 0.3, 1.0, opacity)
    opacity = torch.where(torch.rand(motion, generator=generator) < 0.1, 0.0, opacity)
    softness = torch.rand(batch, count, generator=generator) * 0.5
    softness = torch.where(torch.rand(batch, count, generator=generator) < 0.5, 0.0, softness)
    return (
        inv_affine,
        opacity,
        src_box,
        torch.randint(0, frames, (batch, count), generator=generator, dtype=torch.int32),
        torch.randint(0, 3, (batch, count), generator=generator, dtype=torch.int32),
        softness,
    )


def check_against_oracle(sizes, source_size, dtype, canvas_layout="contiguous",
                         source_layout="contiguous", *, extreme=False, seed=0) -> torch.Tensor:
    """Paints the same random case with both; asserts identical memory; returns the canvas."""
    copies, batch, channels, frames, height, width, count = sizes
    generator = torch.Generator().manual_seed(seed)
    canvas = random_values(generator, (copies, batch, channels, frames, height, width), dtype)
    source = random_values(generator, (batch, channels, frames, *source_size), dtype)
    params = random_params(generator, batch, count, frames, height, width, source_size,
                           extreme=extreme)
    source, _ = stored_as(source, source_layout)
    source_before, canvas_before = source.clone(), canvas.clone()
    expected, expected_buffer = stored_as(canvas, canvas_layout)
    actual, actual_buffer = stored_as(canvas, canvas_layout)
    paint_canvas(reference.paint_, expected, source, *params)
    paint_canvas(native.paint_cpu_, actual, source, *params)
    assert torch.equal(actual_buffer, expected_buffer), (
        f"max difference {(actual_buffer.double() - expected_buffer.double()).abs().max()}"
    )
    # Out of place, each output pixel written once from the input: the same pixels,
    # whatever the outputs' layout; the inputs untouched.
    inputs, _ = stored_as(canvas_before.clone(), canvas_layout)
    for layout in ("contiguous", "channels_last"):
        for paint in (reference.paint_, native.paint_cpu_):
            fresh, _ = stored_as(torch.zeros_like(canvas), layout)
            paint_canvas(paint, inputs, source, *params, into=fresh)
            assert torch.equal(fresh, expected), (paint.__module__, layout)
    assert torch.equal(inputs, canvas_before)
    assert torch.equal(source, source_before)
    return actual


@given(
    sizes=st.tuples(
        st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(1, 4),
        st.integers(1, 33), st.integers(1, 33), st.integers(0, 4),
    ),
    source_size=st.tuples(st.integers(1, 33), st.integers(1, 33)),
    dtype=st.sampled_from(DTYPES),
    canvas_layout=st.sampled_from(LAYOUTS),
    source_layout=st.sampled_from(LAYOUTS),
    extreme=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_matches_reference(sizes, source_size, dtype, canvas_layout, source_layout, extreme, seed):
    check_against_oracle(sizes, source_size, dtype, canvas_layout, source_layout,
                         extreme=extreme, seed=seed)


# (P, B, C, T, H, W, M): 1×1 frames, primes, 2ⁿ−1, H ≠ W, T = 1, up to 4 tubelets.
AWKWARD_SIZES = [
    (1, 1, 1, 1, 1, 1, 1),
    (2, 2, 3, 1, 1, 1, 4),
    (3, 2, 3, 1, 31, 17, 4),
    (2, 1, 3, 5, 63, 127, 2),
    (1, 3, 1, 3, 2, 97, 3),
    (2, 2, 2, 7, 13, 11, 1),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("sizes", AWKWARD_SIZES, ids=str)
@pytest.mark.parametrize("extreme", [False, True], ids=["typical", "extreme"])
def test_awkward_sizes(sizes, dtype, extreme):
    check_against_oracle(sizes, (sizes[4] + 6, sizes[5] + 2), dtype, extreme=extreme)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("canvas_layout", LAYOUTS)
@pytest.mark.parametrize("source_layout", LAYOUTS)
def test_strided_layouts(canvas_layout, source_layout, dtype):
    check_against_oracle((2, 2, 3, 3, 19, 23, 3), (21, 16), dtype, canvas_layout, source_layout)


def one_tubelet(height, width, centre, scale, angle, shear, *, shape=0, softness=0.0):
    """Parameters of one tubelet in one frame, cropping the middle of a 20×20 source."""
    src_box = torch.tensor([[[4, 5, 15, 14]]], dtype=torch.int32)
    inv_affine = compile_inv_affine(
        torch.tensor([[[centre]]]), torch.tensor([[[6.0, 5.0]]]), torch.tensor([[[angle]]]),
        torch.tensor([[[scale]]]), torch.tensor([[[shear]]]),
    )  # fmt: skip
    return (
        inv_affine,
        torch.full((1, 1, 1), 0.75),
        src_box,
        torch.zeros(1, 1, dtype=torch.int32),
        torch.full((1, 1), shape, dtype=torch.int32),
        torch.full((1, 1), softness),
    )


@pytest.mark.parametrize("shape", [0, 1, 2])
@pytest.mark.parametrize("softness", [0.0, 0.3])
@pytest.mark.parametrize(
    "centre, scale, angle, shear",
    [
        ((20.0, 15.0), (0.01, 0.01), 0.0, (0.0, 0.0)),
        ((20.0, 15.0), (100.0, 100.0), 0.0, (0.0, 0.0)),
        ((20.0, 15.0), (0.01, 100.0), 33.0, (0.0, 0.0)),
        ((20.0, 15.0), (1.0, 1.0), 720.0, (0.0, 0.0)),
        ((20.0, 15.0), (1.0, 1.0), -719.0, (0.0, 0.0)),
        ((20.0, 15.0), (1.0, 1.0), 10.0, (10.0, 0.0)),
        ((20.0, 15.0), (1.0, 1.0), -10.0, (-10.0, 10.0)),
        ((20.0, 15.0), (2.0, 0.5), 200.0, (0.0, -10.0)),
        ((-40.0, 15.0), (1.0, 1.0), 0.0, (0.0, 0.0)),
        ((20.0, 500.0), (3.0, 3.0), 45.0, (1.0, 1.0)),
    ],
)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_extreme_transforms(centre, scale, angle, shear, shape, softness, dtype):
    generator = torch.Generator().manual_seed(1)
    canvas = random_values(generator, (2, 1, 3, 1, 30, 41), dtype)
    source = random_values(generator, (1, 3, 1, 20, 20), dtype)
    params = one_tubelet(30, 41, centre, scale, angle, shear, shape=shape, softness=softness)
    expected, actual = canvas.clone(), canvas.clone()
    paint_canvas(reference.paint_, expected, source, *params)
    paint_canvas(native.paint_cpu_, actual, source, *params)
    assert torch.equal(actual, expected)


def test_tubelets_off_the_frame_change_nothing():
    canvas = torch.rand(2, 1, 3, 1, 30, 41)
    painted = canvas.clone()
    for centre in [(-40.0, 15.0), (20.0, 500.0), (1e6, -1e6)]:
        params = one_tubelet(30, 41, centre, (1.0, 1.0), 30.0, (0.0, 0.0))
        paint_canvas(native.paint_cpu_, painted, torch.rand(1, 3, 1, 20, 20), *params)
    assert torch.equal(painted, canvas)


def test_degenerate_maps_paint_nothing():
    """A zero scale gives a singular map: non-finite coordinates are outside the patch."""
    params = one_tubelet(30, 41, (20.0, 15.0), (0.0, 1.0), 30.0, (0.0, 0.0))
    assert not torch.isfinite(params[0]).all()
    canvas = torch.rand(1, 1, 3, 1, 30, 41)
    painted = canvas.clone()
    paint_canvas(native.paint_cpu_, painted, torch.rand(1, 3, 1, 20, 20), *params)
    assert torch.equal(painted, canvas)


def test_soft_ellipses_match_bit_for_bit():
    """Soft ellipses scale the last bit of the distance by 1 / softness: the square roots
    must round alike for the alphas to agree."""
    generator = torch.Generator().manual_seed(3)
    canvas = random_values(generator, (2, 3, 3, 4, 37, 41), torch.float32)
    source = random_values(generator, (3, 3, 4, 37, 41), torch.float32)
    params = list(random_params(generator, 3, 4, 4, 37, 41, (37, 41)))
    params[4] = torch.ones_like(params[4])  # every tubelet an ellipse
    params[5] = 0.1 + params[5]
    expected, actual = canvas.clone(), canvas.clone()
    paint_canvas(reference.paint_, expected, source, *params)
    paint_canvas(native.paint_cpu_, actual, source, *params)
    assert torch.equal(actual, expected)


def points_at_squared_radius(squared: float, count: int) -> list[tuple[float, float]]:
    """``count`` float32 points ``(ux, uy)`` inside the unit square whose ``ux·ux + uy·uy``,
    rounded as float32 products and sum, is exactly ``squared``; found by search."""
    generator, found = torch.Generator().manual_seed(5), []
    while len(found) < count:
        ux = torch.rand(1 << 16, generator=generator) * 0.3 + 0.6
        uy = torch.sqrt(squared - ux.double() ** 2).float()
        hits = ((ux * ux + uy * uy) == squared).nonzero().flatten()
        found += [(float(ux[i]), float(uy[i])) for i in hits[: count - len(found)]]
    return found


def test_hard_ellipse_edges_match_bit_for_bit():
    """Pixels whose squared radius is 1 + 2^-23 (its square root rounds to 1: inside) and
    1 + 2^-22 (outside): an ellipse's edge test may skip the square root only exactly."""
    edge = [(point, True) for point in points_at_squared_radius(1 + 2**-23, 4)]
    edge += [(point, False) for point in points_at_squared_radius(1 + 2**-22, 4)]
    frames = len(edge)
    # Frame t maps pixel (0, 0) to its point u; the rest of the frame lies far outside.
    inv_affine = torch.zeros(1, 1, frames, 2, 3)
    inv_affine[..., 0, 0] = inv_affine[..., 1, 1] = 4.0
    inv_affine[0, 0, :, :, 2] = torch.tensor([point for point, _ in edge])
    params = (inv_affine, torch.ones(1, 1, frames), torch.tensor([[[4, 5, 15, 14]]], dtype=torch.int32),
              torch.zeros(1, 1, dtype=torch.int32), torch.ones(1, 1, dtype=torch.int32), torch.zeros(1, 1))
    canvas = torch.zeros(1, 1, 1, frames, 3, 3, dtype=torch.uint8)
    source = torch.full((1, 1, frames, 20, 20), 200, dtype=torch.uint8)
    expected, actual = canvas.clone(), canvas.clone()
    paint_canvas(reference.paint_, expected, source, *params)
    paint_canvas(native.paint_cpu_, actual, source, *params)
    assert expected[0, 0, 0, :, 0, 0].tolist() == [200 if inside else 0 for _, inside in edge]
    assert torch.equal(actual, expected)


def test_thread_count_does_not_change_the_result():
    generator = torch.Generator().manual_seed(4)
    canvas = random_values(generator, (2, 4, 3, 5, 29, 31), torch.float32)
    source = random_values(generator, (4, 3, 5, 29, 31), torch.float32)
    params = random_params(generator, 4, 3, 5, 29, 31, (29, 31))
    results = []
    threads = torch.get_num_threads()
    try:
        for count in (1, max(2, threads)):
            torch.set_num_threads(count)
            painted = canvas.clone()
            paint_canvas(native.paint_cpu_, painted, source, *params)
            results.append(painted)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(results[0], results[1])


@pytest.mark.parametrize(
    "canvas_shape, count",
    [
        ((1, 0, 3, 2, 5, 5), 1),
        ((1, 0, 3, 2, 5, 5), 0),
        ((1, 1, 3, 2, 0, 5), 1),
        ((1, 1, 3, 2, 5, 5), 0),
    ],
)
def test_empty_inputs_return_early(canvas_shape, count):
    copies, batch, channels, frames, height, width = canvas_shape
    generator = torch.Generator().manual_seed(5)
    params = random_params(generator, batch, count, frames, max(height, 1), width, (4, 4))
    canvas = torch.zeros(canvas_shape)
    paint_canvas(native.paint_cpu_, canvas, torch.rand(batch, channels, frames, 4, 4), *params)
    assert not canvas.any()


def test_rejects_parameters_the_kernel_would_misread():
    generator = torch.Generator().manual_seed(6)
    canvas, source = torch.rand(1, 1, 3, 2, 9, 9), torch.rand(1, 3, 2, 9, 9)
    params = list(random_params(generator, 1, 2, 2, 9, 9, (9, 9)))
    with pytest.raises(ValueError, match="source must be"):
        paint_canvas(native.paint_cpu_, canvas, source.double(), *params)
    with pytest.raises(ValueError, match="contiguous"):
        paint_canvas(native.paint_cpu_, canvas, source, params[0].transpose(1, 2), *params[1:])
    with pytest.raises(ValueError, match="contiguous"):
        paint_canvas(native.paint_cpu_, canvas, source, *params[:2], params[2].long(), *params[3:])


# ---------------------------------------------------------------------------
# dtype conversions (test hooks of tubelets._C), against torch's.


def widen(values: torch.Tensor) -> torch.Tensor:
    out = torch.empty(values.shape, dtype=torch.float32)
    native._C.to_float(str(values.dtype).removeprefix("torch."), values.data_ptr(),
                       out.data_ptr(), values.numel())
    return out


def narrow(values: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    out = torch.empty(values.shape, dtype=dtype)
    native._C.quantise(str(dtype).removeprefix("torch."), values.data_ptr(), out.data_ptr(),
                       values.numel())
    return out


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_widening_every_16_bit_pattern(dtype):
    patterns = torch.arange(-(2**15), 2**15, dtype=torch.int32).to(torch.int16).view(dtype)
    assert_same_bits(widen(patterns), patterns.float())


def test_widening_uint8():
    values = torch.arange(256, dtype=torch.int32).to(torch.uint8)
    assert torch.equal(widen(values), values.float())


def float32_probes(dtype: torch.dtype) -> torch.Tensor:
    """Random float32 bit patterns (every exponent: subnormals, inf, NaN), every value of
    ``dtype`` with the ties halfway to its neighbours and one float32 step either side."""
    generator = torch.Generator().manual_seed(7)
    random = torch.randint(-(2**31), 2**31, (1_000_000,), generator=generator, dtype=torch.int64)
    random = random.to(torch.int32).view(torch.float32)
    exact = torch.arange(-(2**15), 2**15, dtype=torch.int32).to(torch.int16).view(dtype)
    exact = exact[torch.isfinite(exact.float())].float().double().sort().values
    ties = ((exact[1:] + exact[:-1]) / 2).float()  # exact in float32
    steps = [torch.nextafter(ties, torch.full_like(ties, v)) for v in (-math.inf, math.inf)]
    specials = torch.tensor([0.0, -0.0, math.inf, -math.inf, math.nan, 65504.0, 65519.99, 65520.0,
                             2.0**-24, 2.0**-25, 3 * 2.0**-26, 2.0**-14, 1e-45, 3.4028235e38])
    return torch.cat([random, exact.float(), ties, *steps, specials, -specials])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_rounding_to_16_bit_floats_is_nearest_even(dtype):
    values = float32_probes(dtype)
    assert_same_bits(narrow(values, dtype), values.to(dtype))


def test_rounding_to_uint8_is_half_up_and_clamped():
    generator = torch.Generator().manual_seed(8)
    values = torch.cat([
        torch.rand(100_000, generator=generator) * 300 - 20,
        torch.arange(-10, 266, dtype=torch.float32) + 0.5,  # ties
        torch.tensor([0.49999997, 254.49998, 255.5, 1e30, -1e30, math.inf, -math.inf]),
    ])  # fmt: skip
    assert torch.equal(narrow(values, torch.uint8), reference.quantise(values, torch.uint8))


def test_the_default_kernel_is_the_widest_this_cpu_has():
    flags = next((line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")), "")
    has = set(flags.split()[2:])
    expected = ("avx512" if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= has else
                "avx2" if "avx2" in has else "portable")
    assert native._C.simds() == ["portable", "avx2", "avx512"][:["portable", "avx2", "avx512"].index(expected) + 1]
    default = native._C.simd()
    native._C.set_simd("portable")
    try:
        child = run_python("from tubelets import native; print(native._C.simd())")
    finally:
        native._C.set_simd(default)
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == expected
    with pytest.raises(ValueError, match="simd must be"):
        native._C.set_simd("sse9")
    for missing in {"avx2", "avx512"} - set(native._C.simds()):
        with pytest.raises(ValueError, match=f"this CPU has no {missing}"):
            native._C.set_simd(missing)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32], ids=str)
@pytest.mark.parametrize("width", [8, 13])
def test_writes_stop_at_the_last_byte_of_the_output_and_masks(dtype, width):
    """An output and masks whose last bytes are the last before an inaccessible page, painted
    in place up to the corner of the last frame (the spans end at the last pixel): the
    AVX2 kernel reads and writes 8 pixels a step, so its last step of a row must stay
    inside the row (a crash otherwise), and every kernel must give the reference's pixels."""
    page = mmap.PAGESIZE
    channels, frames, height = 3, 2, 9
    itemsize = torch.empty((), dtype=dtype).element_size()
    sizes = {"canvas": channels * frames * height * width * itemsize, "masks": frames * height * width}
    pages = {name: -(-nbytes // page) for name, nbytes in sizes.items()}
    memory = {name: mmap.mmap(-1, (count + 1) * page) for name, count in pages.items()}
    guards = {name: ctypes.addressof(ctypes.c_char.from_buffer(memory[name])) + pages[name] * page for name in memory}
    libc = ctypes.CDLL(None, use_errno=True)
    for guard in guards.values():
        assert libc.mprotect(ctypes.c_void_p(guard), page, 0) == 0, ctypes.get_errno()  # PROT_NONE
    try:
        canvas = torch.frombuffer(memory["canvas"], dtype=dtype, count=sizes["canvas"] // itemsize,
                                  offset=pages["canvas"] * page - sizes["canvas"]).view(1, channels, frames, height, width)
        masks = torch.frombuffer(memory["masks"], dtype=torch.int8, count=sizes["masks"],
                                 offset=pages["masks"] * page - sizes["masks"]).view(1, frames, height, width)
        generator = torch.Generator().manual_seed(6)
        before = random_values(generator, canvas.shape, dtype)
        source = random_values(generator, canvas.shape, dtype)
        inv_affine, opacity, src_box, src_frame, shape, softness = random_params(
            generator, 1, 2, frames, height, width, (height, width))
        # Squares over the frame's last rows and columns, one opaque and one translucent.
        inv_affine[:] = compile_inv_affine(
            torch.tensor([[[[width - 2.0, height - 2.0]] * frames, [[width - 3.0, height - 1.5]] * frames]]),
            torch.tensor([[[[3.0, 3.0]], [[4.0, 2.5]]]]), torch.zeros(1, 2, frames), torch.ones(1, 2, frames, 2),
            torch.zeros(1, 2, frames, 2))
        opacity[:, 0], opacity[:, 1] = 1.0, 0.5
        shape.zero_()
        softness.zero_()
        expected, expected_masks = before.clone(), torch.empty_like(masks)
        reference.paint_([expected], [expected], source, inv_affine, opacity, src_box, src_frame, shape, softness,
                         masks=expected_masks)
        canvas.copy_(before)
        native.paint_cpu_([canvas], [canvas], source, inv_affine, opacity, src_box, src_frame, shape, softness,
                          masks=masks)
        assert expected_masks[0, :, -1, -1].eq(1).all() and not torch.equal(expected, before)
        assert torch.equal(canvas, expected) and torch.equal(masks, expected_masks)
    finally:
        del canvas, masks
        for guard in guards.values():
            libc.mprotect(ctypes.c_void_p(guard), page, 3)  # PROT_READ | PROT_WRITE, before unmapping


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32], ids=str)
@pytest.mark.parametrize("channels", [1, 3])
def test_reads_stop_at_the_last_byte_of_the_source(dtype, channels):
    """A source whose last byte is the last before an unreadable page, and a crop at the
    corner of its last frame: the AVX-512 kernel reads 4 bytes from each uint8 tap, which
    must not cross that page (a crash), and must give the reference's pixels."""
    page = mmap.PAGESIZE
    frames, height, width = 2, 9, 13
    count = channels * frames * height * width
    nbytes = count * torch.empty((), dtype=dtype).element_size()
    pages = -(-nbytes // page)
    memory = mmap.mmap(-1, (pages + 1) * page)
    guard = ctypes.addressof(ctypes.c_char.from_buffer(memory)) + pages * page
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.mprotect(ctypes.c_void_p(guard), page, 0) == 0, ctypes.get_errno()  # PROT_NONE
    try:
        source = torch.frombuffer(memory, dtype=dtype, count=count, offset=pages * page - nbytes).view(1, channels, frames, height, width)
        generator = torch.Generator().manual_seed(5)
        source.copy_(random_values(generator, source.shape, dtype))
        canvas = random_values(generator, (1, 1, channels, frames, height, width), dtype)
        inv_affine, opacity, src_box, src_frame, shape, softness = random_params(
            generator, 1, 2, frames, height, width, (height, width))
        src_box[..., :] = torch.tensor([width - 5, height - 4, width - 1, height - 1], dtype=torch.int32)
        src_frame[...] = frames - 1
        inv_affine[:] = compile_inv_affine(
            torch.tensor([[[[6.0, 4.0]] * frames] * 2]), torch.tensor([[[[2.5, 2.0]]] * 2]),
            torch.full((1, 2, frames), 30.0), torch.ones(1, 2, frames, 2), torch.zeros(1, 2, frames, 2))
        opacity.fill_(1.0)
        expected, actual = canvas.clone(), canvas.clone()
        paint_canvas(reference.paint_, expected, source, inv_affine, opacity, src_box, src_frame, shape, softness)
        paint_canvas(native.paint_cpu_, actual, source, inv_affine, opacity, src_box, src_frame, shape, softness)
        assert not torch.equal(actual, canvas)
        assert torch.equal(actual, expected)
    finally:
        del source
        libc.mprotect(ctypes.c_void_p(guard), page, 3)  # PROT_READ | PROT_WRITE, before unmapping
