"""Fuzzing `TubeletOverlay`: random shapes, dtypes, layouts and extreme configs on every CPU backend.

``HYPOTHESIS_PROFILE=fuzz python -m pytest tests/test_fuzz.py`` runs 2,000 examples; the
default profile runs a few dozen.
"""
import math

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from helpers import assert_same_bits, bits, brute_share, byte_addresses, cpu_backends, outside_every_patch
from tubelets import SHAPES, TubeletConfig, TubeletOverlay, composite, sample_tubelets
from tubelets.config import MOTIONS, TRANSFORMS

DTYPES = [torch.uint8, torch.float16, torch.bfloat16, torch.float32]


def reversed_memory(x: torch.Tensor) -> torch.Tensor:
    """``x`` stored with its dimensions in reverse order (the last one slowest)."""
    order = list(reversed(range(x.dim())))
    return x.permute(order).contiguous().permute(order)


LAYOUTS = {
    "contiguous": lambda x: x,
    "strided": lambda x: x.repeat_interleave(2, -1)[..., ::2],
    "reversed": reversed_memory,
    "channels_last": lambda x: x.contiguous(
        memory_format=torch.channels_last_3d if x.dim() == 5 else torch.channels_last),
    "broadcast": lambda x: x[:1].expand_as(x),
}


def pairs(low: float, high: float):
    """``(min, max)`` pairs of floats in ``[low, high]``."""
    return st.lists(st.floats(low, high), min_size=2, max_size=2).map(sorted).map(tuple)


def subsets(choices: tuple[str, ...], min_size: int):
    """Tuples of distinct names from ``choices``, in a drawn order."""
    return st.lists(st.sampled_from(choices), min_size=min_size, unique=True).map(tuple)


@st.composite
def configs(draw) -> TubeletConfig:
    """Any valid config, out to the extremes: scale 0.01 to 100, rotation ±720°, shear ±10."""
    return TubeletConfig(
        num_tubelets=draw(st.integers(0, 4)),
        motion=draw(st.sampled_from(MOTIONS)),
        transforms=draw(subsets(TRANSFORMS, 0)),
        patch_size=draw(pairs(1e-3, 1.0)),
        shapes=draw(subsets(SHAPES, 1)),
        keyframes=draw(st.integers(2, 6)),
        max_step=draw(pairs(1e-3, 2.0)),
        nonlinear_points=draw(st.integers(2, 64)),
        nonlinear_sigma=draw(st.floats(0.1, 16.0)),
        nonlinear_extent=draw(pairs(0.0, 1.0)),
        scale_range=draw(pairs(0.01, 100.0)),
        rotation_range=draw(pairs(-720.0, 720.0)),
        shear_range=draw(pairs(-10.0, 10.0)),
        opacity=draw(pairs(0.0, 1.0)),
        softness=draw(pairs(0.0, 2.0)),
        p=draw(st.floats(0.0, 1.0)),
    )


@st.composite
def cases(draw):
    """``(overlay, clips, seed)``: one or two clips, batched or not, in the overlay's data format.

    Pixels are uint8, or floats uniform in ``±amplitude`` of which a tenth may be NaN or ±Inf.
    """
    dtype = draw(st.sampled_from(DTYPES))
    data_format = draw(st.sampled_from(["BCTHW", "BTCHW"]))
    batched = draw(st.booleans())
    shape = (draw(st.integers(1, 3)) if batched else 1, draw(st.integers(1, 3)), draw(st.integers(1, 5)),
             draw(st.integers(1, 16)), draw(st.integers(1, 16)))
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**31)))
    clips = []
    for _ in range(draw(st.integers(1, 2))):
        if dtype == torch.uint8:
            clip = torch.randint(0, 256, shape, generator=generator, dtype=torch.uint8)
        else:
            amplitude = draw(st.sampled_from([1.0, 255.0, 6e4]))
            clip = ((torch.rand(shape, generator=generator) * 2 - 1) * amplitude).to(dtype)
            special = draw(st.sampled_from([None, math.nan, math.inf, -math.inf]))
            if special is not None:
                clip[torch.rand(shape, generator=generator) < 0.1] = special
        clip = clip.transpose(1, 2).contiguous() if data_format == "BTCHW" else clip
        clip = clip if batched else clip[0]
        clips.append(LAYOUTS[draw(st.sampled_from(list(LAYOUTS)))](clip))
    overlay = TubeletOverlay(draw(configs()), data_format=data_format, backend=draw(st.sampled_from(cpu_backends())))
    return overlay, clips, draw(st.integers(0, 2**31))


def logical(overlay: TubeletOverlay, clip: torch.Tensor) -> torch.Tensor:
    """A ``(B, C, T, H, W)`` view of a clip in ``overlay``'s data format, batched or not."""
    clip = clip if clip.dim() == 5 else clip[None]
    return clip.transpose(1, 2) if overlay.data_format == "BTCHW" else clip


@given(cases())
def test_overlay_invariants(case):
    """Shape and dtype kept, inputs untouched, pixels outside every patch unchanged, values in
    the inputs' range, and the same pixels as from contiguous copies of the inputs (a NaN
    matching any NaN: the layout picks the code path, and with it which of two NaNs wins)."""
    overlay, clips, seed = case
    before = [bits(clip).clone() for clip in clips]
    *outputs, tubes = overlay(*clips, generator=torch.Generator().manual_seed(seed), return_tubelets=True)
    *contiguous, _ = overlay(*(clip.contiguous() for clip in clips), tubelets=tubes, return_tubelets=True)
    outside = outside_every_patch(tubes, *logical(overlay, clips[0]).shape[-2:])[:, None]
    finite = all(clip.isfinite().all() for clip in clips)
    low, high = min(clip.min() for clip in clips), max(clip.max() for clip in clips)
    for clip, out, original, reference in zip(clips, outputs, before, contiguous):
        assert (out.shape, out.dtype) == (clip.shape, clip.dtype)
        assert torch.equal(bits(clip), original)
        assert_same_bits(out, reference)
        mask = outside.expand_as(logical(overlay, clip))
        torch.testing.assert_close(logical(overlay, out)[mask], logical(overlay, clip)[mask],
                                   rtol=0, atol=0, equal_nan=True)
        if finite:
            assert low <= out.min() and out.max() <= high


@given(cases(), st.data())
def test_clips_that_require_grad_are_refused_and_paint_alike_under_no_grad(case, data):
    """Whatever the config, layout or dtype: a float clip that requires grad is refused by
    name while grad mode is on, and under ``torch.no_grad()`` paints like a detached one."""
    overlay, clips, seed = case
    assume(clips[0].is_floating_point())
    which = data.draw(st.integers(0, len(clips) - 1))
    wanting = [clip.detach().requires_grad_() if p == which else clip for p, clip in enumerate(clips)]
    with pytest.raises(RuntimeError, match=f"^v{which + 1} requires grad"):
        overlay(*wanting, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        painted = overlay(*wanting, generator=torch.Generator().manual_seed(seed), return_tubelets=True)
    expected = overlay(*clips, generator=torch.Generator().manual_seed(seed), return_tubelets=True)
    for out, reference in zip(painted[:-1], expected[:-1]):
        assert_same_bits(out, reference)


@st.composite
def views_of(draw, buffer: torch.Tensor, shape: tuple[int, ...]):
    """A view of ``buffer`` of ``shape``: dimensions in a drawn memory order, each stepped
    by 1 or 2 times the dense stride, at a drawn offset; ``None`` if it does not fit."""
    order = draw(st.permutations(range(len(shape))))
    stride, step = [0] * len(shape), 1
    for dim in reversed(order):
        stride[dim] = step * draw(st.sampled_from([1, 1, 2]))
        step = stride[dim] * shape[dim]
    reach = sum((n - 1) * s for n, s in zip(shape, stride))
    if reach >= buffer.numel():
        return None
    return buffer.as_strided(shape, stride, draw(st.integers(0, buffer.numel() - 1 - reach)))


@given(st.data())
def test_out_aliasing_source_is_refused_exactly_when_they_share_memory(data):
    """``out`` and ``source`` drawn as views of one buffer: sharing a byte is refused before
    any write, unless ``out`` is the source itself, element for element; otherwise the result
    is that of independent copies, and the source is intact unless it is ``out``."""
    dtype = data.draw(st.sampled_from(DTYPES))
    shape = (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2)), data.draw(st.integers(1, 3)),
             data.draw(st.integers(1, 5)), data.draw(st.integers(1, 5)))
    size = math.prod(shape)
    generator = torch.Generator().manual_seed(data.draw(st.integers(0, 2**31)))
    buffer = (torch.rand(data.draw(st.integers(size, 5 * size)), generator=generator) * 200).to(dtype)
    source, out = data.draw(views_of(buffer, shape)), data.draw(views_of(buffer, shape))
    assume(source is not None and out is not None)
    video = (torch.rand(shape, generator=generator) * 200).to(dtype)
    tubes = sample_tubelets(TubeletConfig(num_tubelets=3, patch_size=(0.5, 1.0)), shape[0], *shape[2:],
                            seed=torch.tensor(data.draw(st.integers(0, 2**31))))
    backend = data.draw(st.sampled_from(cpu_backends()))
    expected = composite(video, source.clone(), tubes, backend=backend)
    before, original = bits(buffer).clone(), bits(source).clone()
    source_itself = out.shape == source.shape and out.data_ptr() == source.data_ptr() and out.stride() == source.stride()
    if (brute_share(out, source) and not source_itself) or len(set(byte_addresses(out))) < out.numel():
        refusal = "^out(, the video being painted, must be the source itself or share no memory| has elements)"
        with pytest.raises(ValueError, match=refusal):
            composite(video, source, tubes, out=out, backend=backend)
        assert torch.equal(bits(buffer), before)
    else:
        composite(video, source, tubes, out=out, backend=backend)
        assert_same_bits(out, expected)
        assert source_itself or torch.equal(bits(source), original)
