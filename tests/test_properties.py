"""Properties that hold for any tubelets, checked with hypothesis on every CPU backend."""
import torch
from hypothesis import given
from hypothesis import strategies as st

from helpers import cpu_backends, outside_every_patch
from tubelets import TubeletConfig, TubeletOverlay, composite, sample_tubelets
from tubelets.params import Tubelets

DTYPES = [torch.uint8, torch.float16, torch.bfloat16, torch.float32]


@st.composite
def cases(draw, opaque=False):
    """A random video pair, config and seed."""
    batch = draw(st.integers(1, 3))
    frames = draw(st.integers(1, 6))
    height, width = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    dtype = draw(st.sampled_from(DTYPES))
    config = TubeletConfig(
        num_tubelets=draw(st.integers(1, 4)),
        motion=draw(st.sampled_from(["static", "linear", "nonlinear"])),
        transforms=draw(st.sets(st.sampled_from(["scale", "rotation", "shear"]))),
        softness=(0.0, 0.0) if opaque else draw(st.sampled_from([(0.0, 0.0), (0.0, 0.5)])),
        opacity=(1.0, 1.0) if opaque else draw(st.sampled_from([(1.0, 1.0), (0.2, 1.0)])),
    )
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**31)))
    shape = (batch, 3, frames, height, width)
    v1, v2 = (torch.randint(0, 256, shape, generator=generator) for _ in range(2))
    if dtype.is_floating_point:
        v1, v2 = v1 / 255, v2 / 255
    tubes = sample_tubelets(config, batch, frames, height, width, generator=generator)
    return v1.to(dtype), v2.to(dtype), config, tubes, draw(st.sampled_from(cpu_backends()))


@given(cases())
def test_zero_opacity_changes_nothing(case):
    v1, v2, _, tubes, backend = case
    silent = Tubelets(**{**vars(tubes), "opacity": torch.zeros_like(tubes.opacity)})
    q, k = TubeletOverlay(backend=backend)(v1, v2, tubelets=silent)
    assert torch.equal(q, v1) and torch.equal(k, v2)


@given(cases())
def test_pixels_outside_every_tubelet_are_untouched(case):
    v1, v2, _, tubes, backend = case
    q, k = TubeletOverlay(backend=backend)(v1, v2, tubelets=tubes)
    outside = outside_every_patch(tubes, *v1.shape[-2:])[:, None].expand_as(v1)
    assert torch.equal(q[outside], v1[outside]) and torch.equal(k[outside], v2[outside])


@given(cases(opaque=True))
def test_both_clips_agree_wherever_the_tubelets_are_opaque(case):
    v1, v2, _, tubes, backend = case
    q, k = TubeletOverlay(backend=backend)(v1, v2, tubelets=tubes)
    covered = ~outside_every_patch(tubes, *v1.shape[-2:])
    y, x = torch.meshgrid(torch.arange(v1.shape[-2]), torch.arange(v1.shape[-1]), indexing="ij")
    # Pixels well inside a patch (|u| < 0.999) are opaque for every shape with a hard edge.
    inner = torch.zeros_like(covered)
    for m in range(tubes.num_tubelets):
        a = tubes.inv_affine[:, m].double()[..., None, None]  # (B, T, 2, 3, 1, 1)
        ux = a[..., 0, 0, :, :] * x + a[..., 0, 1, :, :] * y + a[..., 0, 2, :, :]
        uy = a[..., 1, 0, :, :] * x + a[..., 1, 1, :, :] * y + a[..., 1, 2, :, :]
        shape = tubes.shape[:, m].view(-1, 1, 1, 1)
        distance = torch.where(shape == 1, (ux**2 + uy**2).sqrt(),
                               torch.where(shape == 2, ux.abs() + uy.abs(), torch.maximum(ux.abs(), uy.abs())))
        inner |= distance < 0.999
    mask = inner[:, None].expand_as(v1)
    assert covered[inner].all()
    assert torch.equal(q[mask], k[mask])


@given(cases())
def test_shape_dtype_preserved_inputs_unchanged_values_in_range(case):
    v1, v2, config, _, backend = case
    before = v1.clone(), v2.clone()
    q, k = TubeletOverlay(config, backend=backend)(v1, v2)
    assert (q.shape, q.dtype, k.shape, k.dtype) == (v1.shape, v1.dtype, v2.shape, v2.dtype)
    assert torch.equal(v1, before[0]) and torch.equal(v2, before[1])
    low, high = (0, 255) if v1.dtype == torch.uint8 else (0.0, 1.0)
    assert q.min() >= low and q.max() <= high and k.min() >= low and k.max() <= high


@given(cases())
def test_composite_equals_the_pair_overlay(case):
    v1, v2, _, tubes, backend = case
    q, k = TubeletOverlay(backend=backend)(v1, v2, tubelets=tubes)
    assert torch.equal(composite(v2, v1, tubes, backend=backend), k)
