"""`Tubelets.boxes` and `Tubelets.visible` against the pixels the reference compositor paints.

Each tubelet is painted alone at opacity 1 onto a black float32 canvas from a source whose
values are all at least 1, so the changed pixels are exactly its footprint; their box must
match ``boxes`` to a pixel per side (the float32 rounding of the maps in the compositor).
A sliver, a patch thinner than a couple of pixels somewhere, may fall between the pixel
centres: its box need only hold what it paints.
"""
import dataclasses

import pytest
import torch
from hypothesis import given, settings, strategies as st

from helpers import hand_tubelets
from tubelets import SHAPES, TubeletConfig, Tubelets, sample_tubelets
from tubelets.ops import composite

EMPTY = [0, 0, -1, -1]
TRANSFORMS = ("rotation", "scale", "shear")


def one_tubelet(tubes: Tubelets, m: int) -> Tubelets:
    """The tubelets of every clip reduced to tubelet ``m`` (every field is ``(B, M, ...)``)."""
    return Tubelets.from_dict({name: None if v is None else v[:, m : m + 1] for name, v in tubes.to_dict().items()})


def painted(tubes: Tubelets, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B, M, T, 4)`` box of the pixels each tubelet changes when painted alone on a
    ``height × width`` frame, and the ``(B, M, T)`` mask of tubelet-frames that change any."""
    batch, count, frames = tubes.opacity.shape
    canvas = torch.zeros(batch, 1, frames, height, width)
    tall, wide = (int(tubes.src_box[..., i].max()) + 1 for i in (3, 2))  # a source holding every crop
    source = torch.arange(tall * wide, dtype=torch.float32).reshape(tall, wide) % 255 + 1
    source = source.expand(batch, 1, frames, tall, wide)
    boxes, changed = [], []
    for m in range(count):
        mask = composite(canvas, source, one_tubelet(tubes, m), backend="torch")[:, 0] != 0  # (B, T, H, W)
        columns, rows = mask.any(-2), mask.any(-1)
        x, y = torch.arange(width), torch.arange(height)
        boxes.append(torch.stack([torch.where(columns, x, width).amin(-1), torch.where(rows, y, height).amin(-1),
                                  torch.where(columns, x, -1).amax(-1), torch.where(rows, y, -1).amax(-1)], -1))
        changed.append(mask.flatten(2).any(-1))
    return torch.stack(boxes, 1), torch.stack(changed, 1)


def check_against_paint(tubes: Tubelets, height: int, width: int) -> None:
    boxes, visible = tubes.boxes(height, width), tubes.visible(height, width)
    assert boxes.shape == (*tubes.opacity.shape, 4) and boxes.dtype == torch.int64
    assert visible.shape == tubes.opacity.shape and visible.dtype == torch.bool
    got, changed = painted(tubes, height, width)
    assert torch.equal(visible, boxes[..., 2] >= boxes[..., 0])
    assert not (changed & ~visible).any(), "pixels changed by a tubelet-frame called invisible"
    # Thin: the disc inscribed in the shape (radius 1/√2 for the rhombus, 1 otherwise) maps
    # to under 2 px across, 2 · (1/√2) / σ_max of the 2×2 part of inv_affine.
    thin = torch.linalg.matrix_norm(tubes.inv_affine[..., :2].double(), ord=2) > 2 ** -0.5
    near = ((got - boxes).abs() <= 1).all(-1)
    assert near[changed & ~thin].all(), (got[changed & ~thin], boxes[changed & ~thin])
    inside = (got[..., :2] >= boxes[..., :2] - 1) & (got[..., 2:] <= boxes[..., 2:] + 1)
    assert inside.all(-1)[changed].all(), "pixels painted outside the box"
    frame = tubes.frame_boxes(height, width).long()
    assert ((got[..., :2] >= frame[..., :2]) & (got[..., 2:] <= frame[..., 2:]))[changed].all()
    assert ((boxes[..., :2] >= frame[..., :2]) & (boxes[..., 2:] <= frame[..., 2:]))[visible].all()
    # Visible but nothing changed: only a rounding sliver, a pixel or two.
    sizes = (boxes[..., 2:] - boxes[..., :2] + 1).prod(-1)
    assert (sizes[visible & ~changed & ~thin] <= 2).all()
    assert (boxes[~visible] == torch.tensor(EMPTY)).all()


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("softness", [(0.0, 0.0), (0.05, 0.8)])
def test_boxes_hold_exactly_the_painted_pixels(shape, softness):
    height, width = 37, 53
    config = TubeletConfig(num_tubelets=3, transforms=TRANSFORMS, shapes=(shape,), softness=softness,
                           patch_size=(0.05, 0.5), shear_range=(-1.5, 1.5))
    # Sampled for a frame twice as large, and painted on the top-left quarter of it: patches
    # partly and wholly off the frame.
    tubes = sample_tubelets(config, 6, 5, 2 * height, 2 * width, seed=torch.tensor(SHAPES.index(shape)))
    check_against_paint(tubes, height, width)
    thin = torch.linalg.matrix_norm(tubes.inv_affine[..., :2].double(), ord=2) > 2 ** -0.5
    assert thin.float().mean() < 0.1, "slivers among the sampled patches: the strict check skips them"
    boxes = tubes.boxes(height, width)
    clipped = (boxes[..., 0] == 0) | (boxes[..., 2] == width - 1) | (boxes[..., 1] == 0) | (boxes[..., 3] == height - 1)
    assert (clipped & tubes.visible(height, width)).any(), "no patch partly off the frame: the test lost its edge"
    assert not tubes.visible(height, width).all(), "no patch wholly off the frame"


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**62), shape=st.sampled_from(SHAPES), soft=st.booleans(),
       height=st.integers(1, 40), width=st.integers(1, 40), shear=st.floats(0.0, 2.0))
def test_boxes_match_the_paint_for_any_tubelets(seed, shape, soft, height, width, shear):
    config = TubeletConfig(num_tubelets=2, transforms=TRANSFORMS, shapes=(shape,), patch_size=(0.05, 1.0),
                           softness=(0.1, 0.5) if soft else (0.0, 0.0), shear_range=(-shear, shear))
    check_against_paint(sample_tubelets(config, 2, 3, height, width, seed=torch.tensor(seed)), height, width)


def test_zero_opacity_and_skipped_clips_are_invisible():
    for config in (TubeletConfig(opacity=(0.0, 0.0)), TubeletConfig(p=0.0)):
        tubes = sample_tubelets(config, 3, 4, 32, 32, seed=torch.tensor(1))
        assert not tubes.visible(32, 32).any()
        assert (tubes.boxes(32, 32) == torch.tensor(EMPTY)).all()
    tubes = sample_tubelets(TubeletConfig(), 3, 4, 32, 32, seed=torch.tensor(1))
    faded = dataclasses.replace(tubes, opacity=tubes.opacity * torch.tensor([1.0, 0.0, 1.0, 1.0]))
    assert not faded.visible(32, 32)[..., 1].any()
    assert torch.equal(faded.visible(32, 32)[..., [0, 2, 3]], tubes.visible(32, 32)[..., [0, 2, 3]])


# An 8 × 8 crop (half-size 4) placed by hand in a 30 × 40 frame (height × width).
HAND = [
    # centre, angle, softness, expected box: worked out from the corners and the edge rule
    ((10.0, 20.0), 0.0, 0.0, [6, 16, 14, 24]),  # x, y in [c - 4, c + 4], edges on pixel centres, painted
    ((10.0, 20.0), 0.0, 0.5, [7, 17, 13, 23]),  # soft edges: the centres on the edge get alpha 0
    ((1.5, 2.5), 0.0, 0.0, [0, 0, 5, 6]),  # x in [-2.5, 5.5], y in [-1.5, 6.5], clipped at 0
    ((20.0, 15.0), 45.0, 0.0, [15, 10, 25, 20]),  # corners 4·√2 = 5.66 px from the centre
    ((38.0, 15.0), 45.0, 0.0, [33, 10, 39, 20]),  # the same, its right corner off the frame
    ((-10.0, 15.0), 0.0, 0.0, EMPTY),  # off the frame
]


@pytest.mark.parametrize("centre, angle, softness, expected", HAND)
def test_hand_built_square_gets_the_expected_box(centre, angle, softness, expected):
    tubes = hand_tubelets([[(0, 0, 7, 7)]], [[[centre]]], angles=angle, softness=softness)
    assert tubes.boxes(30, 40)[0, 0, 0].tolist() == expected
    assert bool(tubes.visible(30, 40)[0, 0, 0]) == (expected != EMPTY)
    got, changed = painted(tubes, 30, 40)
    assert got[0, 0, 0].tolist() == (expected if expected != EMPTY else [40, 30, -1, -1])


def test_degenerate_maps_do_not_crash():
    tubes = hand_tubelets([[(0, 0, 7, 7)] * 3], [[[(5.0, 5.0)]] * 3])
    maps = tubes.inv_affine.clone()
    maps[0, 0, :, :, :2] = 0  # singular: the whole frame, conservatively
    maps[0, 1, :, 0, 0] = float("nan")  # NaN: nothing is painted
    maps[0, 2, :, 1, 2] = float("inf")
    tubes = dataclasses.replace(tubes, inv_affine=maps)
    assert tubes.boxes(9, 11)[0, :, 0].tolist() == [[0, 0, 10, 8], EMPTY, EMPTY]
    assert tubes.visible(9, 11)[0, :, 0].tolist() == [True, False, False]


@pytest.mark.parametrize("height, width, name", [(0, 5, "height"), (5, True, "width"), (2.5, 5, "height"),
                                                  (5, -1, "width")])
def test_bad_frame_size_names_the_argument(height, width, name):
    tubes = sample_tubelets(TubeletConfig(), 1, 2, 16, 16, seed=torch.tensor(0))
    for method in (tubes.boxes, tubes.visible):
        with pytest.raises(ValueError, match=f"^{name} must be an integer >= 1"):
            method(height, width)


def test_no_values_are_read_and_empty_batches_work():
    tubes = sample_tubelets(TubeletConfig(), 2, 3, 20, 24, seed=torch.tensor(0))
    meta = tubes.to("meta")  # a value read from the host would raise on meta tensors
    assert meta.boxes(20, 24).shape == (2, 2, 3, 4) and meta.visible(20, 24).shape == (2, 2, 3)
    assert tubes[0:0].boxes(20, 24).shape == (0, 2, 3, 4)
