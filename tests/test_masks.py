"""Masks and source alpha in the compositing kernels: ``masks=`` and ``source_alpha=`` of
``ops.paint_`` on every backend against the reference, and the masks against the
footprint they describe (``return_masks``, ``render_masks``)."""
from __future__ import annotations

import dataclasses

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import bits, cpu_backends
from test_triton import interpreted_module, parameters, video
from tubelets import TubeletConfig, TubeletOverlay, native, ops, render_masks, sample_tubelets
from tubelets.params import Tubelets

DTYPES = (torch.uint8, torch.float16, torch.bfloat16, torch.float32)


def as_tubelets(params) -> Tubelets:
    inv_affine, opacity, src_box, src_frame, shape, softness = params
    batch, count, frames = opacity.shape
    zeros = torch.zeros(batch, count, frames, 2)
    return Tubelets(inv_affine, opacity, src_box, src_frame, shape, softness, zeros, zeros[..., 0], zeros + 1, zeros)


def painters():
    """(name, paint_) of every backend that runs here; the C++ one per SIMD kernel."""
    found = [("torch", None)]
    if native._C is not None:
        found += [(f"cpu-{simd}", simd) for simd in native._C.simds()]
    found.append(("triton-interpreted", "triton"))
    return found


def paint(name, simd, outs, ins, source, tubes, masks, source_alpha):
    if name == "triton-interpreted":
        p = tubes
        interpreted_module().paint_(outs, ins or outs, source, p.inv_affine, p.opacity, p.src_box, p.src_frame,
                                    p.shape, p.softness, masks=masks, source_alpha=source_alpha)
        return
    if simd is not None:
        native._C.set_simd(simd)
    try:
        ops.paint_(outs, ins, source, tubes, backend="torch" if simd is None else "cpu", validate=False,
                   masks=masks, source_alpha=source_alpha)
    finally:
        if native._C is not None:
            native._C.set_simd(native._C.simds()[-1])


@settings(max_examples=12, deadline=None)
@given(dtype=st.sampled_from(DTYPES), alpha=st.booleans(), with_outputs=st.booleans(), in_place=st.booleans(),
       layout=st.sampled_from(["BCTHW", "BTCHW", "sliced"]), height=st.integers(1, 19), width=st.integers(1, 37),
       count=st.integers(0, 4), regime=st.sampled_from(["moderate", "extreme", "degenerate"]),
       seed=st.integers(0, 2**31))
def test_every_backend_writes_the_references_masks_and_pixels(dtype, alpha, with_outputs, in_place, layout, height,
                                                              width, count, regime, seed):
    generator = torch.Generator().manual_seed(seed)
    batch, channels, frames = 2, 3, 2
    source = video((batch, channels + int(alpha), frames, 11, 13), dtype, layout, generator)
    if alpha and dtype == torch.uint8:  # transparent, opaque and between
        source[:, -1] = torch.tensor([0, 255, 77], dtype=torch.uint8)[torch.randint(0, 3, (11, 13),
                                                                                   generator=generator)]
    elif alpha:  # beyond [0, 1] too: clamped
        source[:, -1] = (source[:, -1].float() * 1.6 - 0.3).to(dtype)
    tubes = as_tubelets(parameters(batch, count, frames, height, width, (frames, 11, 13), regime, generator))
    canvas = video((batch, channels, frames, height, width), dtype, layout, generator)
    results = {}
    for name, simd in painters():
        out = canvas.clone() if in_place else torch.empty_like(canvas)
        masks = torch.full((batch, frames, height, width), 99, dtype=torch.int8)
        outs = [out] if with_outputs else []
        ins = ([] if in_place else [canvas]) if with_outputs else []
        paint(name, simd, outs, ins, source, tubes, masks, alpha)
        results[name] = (bits(out) if with_outputs else None, masks)
    expected = results.pop("torch")
    assert ((expected[1] >= -1) & (expected[1] < max(count, 1))).all()
    for name, (pixels, masks) in results.items():
        assert torch.equal(masks, expected[1]), name
        if with_outputs:
            assert torch.equal(pixels, expected[0]), name


def one_tubelet(tubes: Tubelets, m: int) -> Tubelets:
    return dataclasses.replace(tubes, **{f.name: getattr(tubes, f.name)[:, m:m + 1] for f in dataclasses.fields(tubes)
                                         if f.name not in ("motion_keyframes", "transform_keyframes")})


@pytest.mark.parametrize("backend", cpu_backends())
@pytest.mark.parametrize("config", [
    TubeletConfig(num_tubelets=5, transforms=("rotation", "scale", "shear")),
    TubeletConfig(num_tubelets=4, softness=(0.05, 0.5), motion="linear"),
    TubeletConfig(num_tubelets=3, shapes=("ellipse",), transforms=("shear",)),
], ids=["hard", "soft", "ellipses"])
def test_masks_are_the_topmost_footprint(backend, config):
    """A pixel's mask is the last tubelet that changes it when each is painted alone at
    opacity 1 onto a constant background from a source that differs from it everywhere."""
    batch, frames, height, width = 3, 4, 37, 53
    tubes = sample_tubelets(config, batch, frames, height, width, seed=torch.tensor(5))
    background = torch.zeros(batch, 3, frames, height, width)
    source = 1 + torch.rand(batch, 3, frames, height, width, generator=torch.Generator().manual_seed(0))
    expected = torch.full((batch, frames, height, width), -1, dtype=torch.int8)
    for m in range(tubes.num_tubelets):
        painted = ops.composite(background, source, one_tubelet(tubes, m), backend="torch")
        expected[(painted != 0).any(1)] = m
    assert (expected >= 0).any() and (expected == -1).any()
    overlay = TubeletOverlay(config, backend=backend)
    _, masks = overlay(background, tubelets=tubes, return_masks=True)
    assert masks.dtype == torch.int8 and masks.shape == (batch, frames, height, width)
    assert torch.equal(masks, expected)
    assert torch.equal(render_masks(tubes, height, width, backend=backend), expected)


@pytest.mark.parametrize("backend", cpu_backends())
def test_masks_come_with_every_output_form(backend):
    overlay = TubeletOverlay(backend=backend, num_tubelets=3)
    v1, v2 = (torch.randint(0, 256, (2, 3, 4, 30, 40), dtype=torch.uint8) for _ in range(2))
    q, k, tubes, masks = overlay(v1, v2, return_tubelets=True, return_masks=True)
    assert torch.equal(masks, render_masks(tubes, 30, 40, backend="torch"))
    q2, k2, masks2 = overlay(v1, v2, tubelets=tubes, return_masks=True)
    assert torch.equal(q, q2) and torch.equal(k, k2) and torch.equal(masks, masks2)
    clip, clip_masks = overlay(v1[0], tubelets=tubes[0], return_masks=True)
    assert clip_masks.shape == (4, 30, 40) and torch.equal(clip_masks, masks[0])
    inplace = TubeletOverlay(backend=backend, num_tubelets=3, inplace=True)
    a, b = v1.clone(), v2.clone()
    _, _, masks3 = inplace(a, b, tubelets=tubes, return_masks=True)
    assert torch.equal(masks3, masks) and torch.equal(a, q) and torch.equal(b, k)


def test_source_alpha_of_one_or_zero_against_hand_values():
    """uint8 alpha 255 paints the colours as a source without alpha does; 0 paints
    nothing; 128 blends 128/255 of a constant 200 over 0: floor(200·128/255 + 0.5) = 100."""
    tubes = sample_tubelets(TubeletConfig(num_tubelets=1, shapes=("rectangle",)), 1, 3, 32, 32,
                            seed=torch.tensor(3))
    canvas = torch.zeros(1, 3, 3, 32, 32, dtype=torch.uint8)
    colours = torch.randint(1, 256, (1, 3, 3, 32, 32), dtype=torch.uint8)
    for backend in cpu_backends():
        plain = ops.composite(canvas, colours, tubes, backend=backend)
        for value, check in ((255, lambda out, m: torch.equal(out, plain) and (m >= 0).any()),
                             (0, lambda out, m: torch.equal(out, canvas) and (m == -1).all())):
            source = torch.cat([colours, torch.full((1, 1, 3, 32, 32), value, dtype=torch.uint8)], 1)
            out, masks = torch.empty_like(canvas), torch.empty(1, 3, 32, 32, dtype=torch.int8)
            ops.paint_([out], [canvas], source, tubes, backend=backend, masks=masks, source_alpha=True)
            assert check(out, masks), (backend, value)
        grey = torch.cat([torch.full((1, 3, 3, 32, 32), 200, dtype=torch.uint8),
                          torch.full((1, 1, 3, 32, 32), 128, dtype=torch.uint8)], 1)
        out = torch.empty_like(canvas)
        ops.paint_([out], [canvas], grey, tubes, backend=backend, source_alpha=True)
        changed = out[out != 0]
        assert changed.numel() > 0 and (changed == 100).all(), backend


def test_masks_and_alpha_are_refused_with_their_names():
    v = torch.zeros(1, 3, 2, 8, 8, dtype=torch.uint8)
    tubes = sample_tubelets(TubeletConfig(), 1, 2, 8, 8, seed=torch.tensor(1))
    for masks, message in ((torch.zeros(1, 2, 8, 8), "masks must be a contiguous"),
                           (torch.zeros(1, 2, 8, 9, dtype=torch.int8), "masks must have the videos' frame size"),
                           (torch.zeros(1, 2, 8, 16, dtype=torch.int8)[..., ::2], "masks must be a contiguous"),
                           ("masks", "masks must be a torch.Tensor")):
        with pytest.raises((ValueError, TypeError), match=message):
            ops.paint_([torch.empty_like(v)], [v], v, tubes, masks=masks)
    with pytest.raises(ValueError, match="masks must not share memory"):
        out = torch.empty_like(v)
        ops.paint_([out], [v], v, tubes, masks=out[:, 0].view(torch.int8))
    with pytest.raises(ValueError, match="source_alpha: the source needs a colour channel"):
        ops.paint_([], [], v[:, :1], tubes, masks=torch.empty(1, 2, 8, 8, dtype=torch.int8), source_alpha=True)
    with pytest.raises(ValueError, match="source must have the video's batch size and channels"):
        ops.paint_([torch.empty_like(v)], [v], v, tubes, source_alpha=True)
    with pytest.raises(ValueError, match="give one or more outputs"):
        ops.paint_([], [], v, tubes, source_alpha=False, masks=None)
    many = sample_tubelets(TubeletConfig(num_tubelets=128), 1, 2, 8, 8, seed=torch.tensor(1))
    with pytest.raises(ValueError, match="at most 127 tubelets"):
        render_masks(many, 8, 8)
    with pytest.raises(ValueError, match="height must be an int >= 1"):
        render_masks(tubes, 0, 8)
