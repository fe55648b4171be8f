"""The compositor against answers worked out by hand with NumPy, on every CPU backend.

These are the oracle's own checks: each expected output is computed independently
(slicing, ``np.rot90``, the blend formula), never by the code under test.
"""
import numpy as np
import pytest
import torch

from helpers import SENTINEL, cpu_backends, hand_tubelets, huge_source_edge, paint_canvas
from tubelets import composite

BACKENDS = cpu_backends()


def video_pair(batch=1, frames=3, height=24, width=30, seed=0):
    generator = torch.Generator().manual_seed(seed)
    shape = (batch, 3, frames, height, width)
    return (torch.randint(0, 256, shape, generator=generator, dtype=torch.uint8),
            torch.randint(0, 256, shape, generator=generator, dtype=torch.uint8))


@pytest.mark.parametrize("backend", BACKENDS)
def test_translated_patch_is_an_exact_copy_of_the_crop(backend):
    source, video = video_pair(frames=3)
    box = (4, 2, 10, 7)  # 7 × 6 crop: centre (7, 4.5)
    centers = [[[[7.0, 4.5], [12.0, 10.5], [20.0, 16.5]]]]
    out = composite(video, source, hand_tubelets([[box]], centers, src_frame=1), backend=backend)
    crop = source[0, :, 1, 2:8, 4:11].numpy()
    expected = video.clone().numpy()
    for t, (cx, cy) in enumerate(centers[0][0]):
        x0, y0 = int(cx - 3), int(cy - 2.5)
        expected[0, :, t, y0 : y0 + 6, x0 : x0 + 7] = crop
    np.testing.assert_array_equal(out.numpy(), expected)


@pytest.mark.parametrize("backend", BACKENDS)
def test_quarter_turn_rotates_the_crop_clockwise(backend):
    source, video = video_pair(frames=1)
    box = (3, 5, 11, 13)  # 9 × 9 crop centred on (7, 9)
    tubes = hand_tubelets([[box]], [[[[15.0, 12.0]]]], angles=[[[90.0]]])
    out = composite(video, source, tubes, backend=backend)
    crop = source[0, :, 0, 5:14, 3:12].numpy()
    expected = video.clone().numpy()
    expected[0, :, 0, 8:17, 11:20] = np.rot90(crop, k=-1, axes=(1, 2))
    np.testing.assert_array_equal(out.numpy(), expected)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("angle", [17.0, 45.0, -63.0, 135.0])
def test_rotated_patch_shows_only_crop_pixels(backend, angle):
    """Corners of a rotated patch are masked, never filled from outside the crop."""
    video = torch.zeros(1, 1, 1, 40, 40, dtype=torch.float32)
    source = torch.full_like(video, 100.0)
    source[..., 10:20, 12:26] = torch.rand(10, 14) * 50  # the crop holds values < 50
    tubes = hand_tubelets([[(12, 10, 25, 19)]], [[[[20.0, 20.0]]]], angles=[[[angle]]])
    out = composite(video, source, tubes, backend=backend)
    assert out.max() < 50
    assert (out > 0).sum() > 0.8 * 10 * 14


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape, inside", [
    (0, lambda dx, dy: (abs(dx) <= 5.5) & (abs(dy) <= 5.5)),
    (1, lambda dx, dy: dx * dx + dy * dy <= 5.5**2),
    (2, lambda dx, dy: abs(dx) + abs(dy) <= 5.5),
])
def test_shapes_cover_the_expected_pixels(backend, shape, inside):
    """A half size of 5.5 px keeps every pixel centre off the shapes' borders."""
    video = torch.zeros(1, 1, 1, 21, 21)
    source = torch.ones(1, 1, 1, 21, 21)
    tubes = hand_tubelets([[(0, 0, 10, 10)]], [[[[10.0, 10.0]]]], shape=shape)
    out = composite(video, source, tubes, backend=backend)[0, 0, 0].numpy()
    dy, dx = np.mgrid[-10:11, -10:11].astype(np.float64)
    np.testing.assert_array_equal(out == 1, inside(dx, dy))


@pytest.mark.parametrize("backend", BACKENDS)
def test_half_opacity_blends_and_rounds_half_up(backend):
    """An 8 × 8 crop keeps the map's coefficients exact, so ties really are ties."""
    source, video = video_pair(frames=2)
    tubes = hand_tubelets([[(0, 0, 7, 7)]], [[[[11.5, 11.5], [11.5, 11.5]]]], opacity=0.5)
    out = composite(video, source, tubes, backend=backend).numpy()
    patch = source[0, :, 0, 0:8, 0:8].numpy().astype(np.float64)
    under = video[0, :, :, 8:16, 8:16].numpy().astype(np.float64)
    expected = np.floor(under * 0.5 + patch[:, None] * 0.5 + 0.5)
    np.testing.assert_array_equal(out[0, :, :, 8:16, 8:16], expected)


@pytest.mark.parametrize("backend", BACKENDS)
def test_soft_edge_ramps_from_the_border_inwards(backend):
    video = torch.zeros(1, 1, 1, 1, 41)
    source = torch.ones(1, 1, 1, 1, 41)
    tubes = hand_tubelets([[(0, 0, 19, 0)]], [[[[20.0, 0.0]]]], softness=0.5)  # half width 10 px
    out = composite(video, source, tubes, backend=backend)[0, 0, 0, 0].numpy()
    dx = np.abs(np.arange(41) - 20.0)
    expected = np.clip((1 - np.maximum(dx / 10, 0.0)) / 0.5, 0, 1)
    np.testing.assert_allclose(out, expected, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_later_tubelets_paint_over_earlier_ones(backend):
    video = torch.zeros(1, 1, 1, 20, 20)
    source = torch.arange(400.0).view(1, 1, 1, 20, 20)
    boxes = [[(0, 0, 9, 9), (10, 10, 13, 13)]]
    centers = [[[[10.0, 10.0]], [[10.5, 10.5]]]]
    out = composite(video, source, hand_tubelets(boxes, centers), backend=backend)
    np.testing.assert_array_equal(out[0, 0, 0, 9:13, 9:13].numpy(), source[0, 0, 0, 10:14, 10:14].numpy())


@pytest.mark.parametrize("backend", BACKENDS)
def test_scale_two_doubles_the_patch(backend):
    video = torch.zeros(1, 1, 1, 30, 30)
    source = torch.ones(1, 1, 1, 30, 30)
    tubes = hand_tubelets([[(0, 0, 4, 4)]], [[[[15.0, 15.0]]]], scales=[[[[2.0, 3.0]]]])
    out = composite(video, source, tubes, backend=backend)[0, 0, 0]
    rows, cols = torch.nonzero(out, as_tuple=True)
    assert (cols.max() - cols.min() + 1, rows.max() - rows.min() + 1) == (11, 15)


@pytest.mark.parametrize("axis", ["x", "y"])
def test_huge_source_edge_matches_cpp(axis):
    """A crop ending at the last column (row) of a source 2**24 + 4 pixels across: the index
    stays in the crop although the crop's end rounds up in float32, as in the C++ backend."""
    from tubelets import native, reference

    if native._C is None:
        pytest.skip(native.CPU_UNAVAILABLE)
    canvas, source, params = huge_source_edge(axis)
    expected, actual = canvas.clone(), canvas.clone()
    paint_canvas(native.paint_cpu_, expected, source, *params)
    assert expected.any() and expected.max() < SENTINEL - 56  # painted, from the source's pixels
    paint_canvas(reference.paint_, actual, source, *params)
    assert torch.equal(actual, expected)
