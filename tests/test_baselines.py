"""The benchmarks' baselines do the same work as the package, so that timing them is fair.

* ``benchmarks/torch_pipelines.py`` (grid_sample, kornia) against :mod:`tubelets.reference`
  on the same :class:`~tubelets.Tubelets`, float32, on the pixels where bilinear sampling
  and mask conventions cannot differ (see :func:`unambiguous`).
* ``benchmarks/opencv_pipeline.py`` (the per-clip OpenCV pipeline): a pair whose clips
  agree wherever a patch was pasted, untouched outside the patches; exact on translated
  patches; parameters drawn as the paper says; the non-linear path smoothed as scipy smooths.
* ``benchmarks/official.py``: a folder that is not a clone of the official code is refused
  by name, before anything is imported (the official code itself is not needed).
"""
import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("cv2", reason="the OpenCV pipeline baseline needs opencv-python-headless")
pytest.importorskip("scipy", reason="the OpenCV pipeline baseline needs scipy")
from scipy.ndimage import gaussian_filter1d  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import official  # noqa: E402
import opencv_pipeline  # noqa: E402
import torch_pipelines  # noqa: E402
from tubelets import SHAPES, TubeletConfig, TubeletOverlay, sample_tubelets  # noqa: E402

TRANSFORMS = [(), ("rotation",), ("scale", "rotation", "shear")]
FRAMES, HEIGHT, WIDTH = 3, 96, 128  # H ≠ W catches swapped axes

# Both baselines compute patch coordinates in float32 in another order than the reference
# (normalised grids; kornia inverts a matrix): u differs by about 1e-6, the source position
# by under 1e-4 px for crops up to 73 px, so values in [0, 1] differ by under 1e-4. The
# largest difference seen is 3e-5.
ATOL = 2e-4


@pytest.fixture(autouse=True)
def one_thread():
    """These tensors are tiny: OpenMP's synchronisation only costs time, badly so on a busy
    machine; no result depends on the thread count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def clip_pair(dtype=torch.float32, batch=2, seed=0):
    generator = torch.Generator().manual_seed(seed)
    size = (batch, 3, FRAMES, HEIGHT, WIDTH)
    v1, v2 = (torch.randint(0, 256, size, dtype=torch.uint8, generator=generator) for _ in range(2))
    return (v1, v2) if dtype == torch.uint8 else (v1 / 255, v2 / 255)


def unambiguous(tubelets, mask_margin):
    """``(clear, covered)``, ``(B, 1, T, H, W)`` bool: pixels that every tubelet clearly
    covers or clearly misses, and pixels that some tubelet clearly covers.

    Covered: the shape distance is at most ``1 - margin`` and both bilinear taps lie inside
    the crop (``|u| <= 1 - 1/half`` on each axis), where whole-frame sampling reads what the
    reference's crop-clamped sampling reads. Missed: the distance is at least ``1 + margin``.
    ``mask_margin(half_x, half_y)`` is how far in ``u`` a baseline's mask edge may stray.
    """
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    m = tubelets.inv_affine.double().numpy()[..., None, None]  # (B, M, T, 2, 3, 1, 1)
    ux = m[..., 0, 0, :, :] * x + m[..., 0, 1, :, :] * y + m[..., 0, 2, :, :]
    uy = m[..., 1, 0, :, :] * x + m[..., 1, 1, :, :] * y + m[..., 1, 2, :, :]
    shape = tubelets.shape.numpy()[..., None, None, None]
    distance = np.where(shape == SHAPES.index("ellipse"), np.hypot(ux, uy),
                        np.where(shape == SHAPES.index("rhombus"), np.abs(ux) + np.abs(uy),
                                 np.maximum(np.abs(ux), np.abs(uy))))
    half = (tubelets.patch_size.double().numpy() / 2)[..., None, None, None, :]
    margin = mask_margin(half[..., 0], half[..., 1])
    covered = ((distance <= 1 - margin) & (np.abs(ux) <= 1 - 1 / half[..., 0])
               & (np.abs(uy) <= 1 - 1 / half[..., 1]))
    clear = covered | (distance >= 1 + margin)
    return torch.from_numpy(clear.all(1))[:, None], torch.from_numpy(covered.any(1))[:, None]


# grid_sample's mask is the reference's formula on float32 coordinates. kornia warps the
# mask drawn on source pixels: its edge moves by up to one source pixel on each axis, 1/half
# in u, and the rhombus distance |ux| + |uy| adds both.
GRID_SAMPLE = (torch_pipelines.overlay_grid_sample, lambda hx, hy: 1e-4)
KORNIA = (torch_pipelines.overlay_kornia, lambda hx, hy: 1.5 * (1 / hx + 1 / hy))
NEEDS_KORNIA = pytest.mark.skipif(importlib.util.find_spec("kornia") is None, reason="kornia is not installed")
HARD, TRANSLUCENT, SOFT = {}, {"opacity": (0.4, 0.9)}, {"softness": (0.1, 0.3), "opacity": (0.4, 0.9)}


@pytest.mark.parametrize("overlay, mask_margin, fields", [
    pytest.param(*GRID_SAMPLE, HARD, id="grid_sample-hard"),
    pytest.param(*GRID_SAMPLE, SOFT, id="grid_sample-soft"),
    pytest.param(*KORNIA, HARD, id="kornia-hard", marks=NEEDS_KORNIA),
    # Not SOFT: kornia interpolates the warped ramp bilinearly instead of evaluating it.
    pytest.param(*KORNIA, TRANSLUCENT, id="kornia-translucent", marks=NEEDS_KORNIA),
])
@pytest.mark.parametrize("transforms", TRANSFORMS, ids=lambda t: "+".join(t) or "none")
def test_torch_baselines_match_the_reference(overlay, mask_margin, fields, transforms):
    config = TubeletConfig(num_tubelets=3, transforms=transforms, **fields)
    v1, v2 = clip_pair()
    tubelets = sample_tubelets(config, 2, FRAMES, HEIGHT, WIDTH, generator=torch.Generator().manual_seed(1))
    expected = TubeletOverlay(config, backend="torch")(v1, v2, tubelets=tubelets)
    outputs = overlay(v1, v2, tubelets)
    compared, patch = unambiguous(tubelets, mask_margin)
    assert (compared & patch).sum() > 1000
    for out, want, clip in zip(outputs, expected, (v1, v2)):
        assert out.dtype == clip.dtype and out.shape == clip.shape
        torch.testing.assert_close(out[compared.expand_as(out)], want[compared.expand_as(want)],
                                   atol=ATOL, rtol=0)


def test_torch_baselines_round_uint8_like_the_reference_on_translated_patches():
    config = TubeletConfig(num_tubelets=2, transforms=())
    v1, v2 = clip_pair(torch.uint8)
    tubelets = sample_tubelets(config, 2, FRAMES, HEIGHT, WIDTH, generator=torch.Generator().manual_seed(2))
    expected = TubeletOverlay(config, backend="torch")(v1, v2, tubelets=tubelets)
    compared, _ = unambiguous(tubelets, lambda hx, hy: 1e-4)
    for out, want in zip(torch_pipelines.overlay_grid_sample(v1, v2, tubelets), expected):
        assert out.dtype == torch.uint8
        assert torch.equal(out[compared.expand_as(out)], want[compared.expand_as(want)])


def opencv_inputs(dtype):
    """One clip pair as ``(T, H, W, C)`` arrays, and constant clips to find where patches went."""
    v1, v2 = (v[0].permute(1, 2, 3, 0).contiguous().numpy() for v in clip_pair(dtype, batch=1))
    low, high = np.zeros_like(v1), np.full_like(v1, 255 if dtype == torch.uint8 else 1)
    return v1, v2, low, high


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32], ids=str)
@pytest.mark.parametrize("transforms", TRANSFORMS, ids=lambda t: "+".join(t) or "none")
def test_opencv_pipeline_pastes_the_same_patches_into_both_clips(dtype, transforms):
    config = TubeletConfig(num_tubelets=3, transforms=transforms)
    v1, v2, low, high = opencv_inputs(dtype)
    before = v1.copy(), v2.copy()
    tubes = opencv_pipeline.sample_clip(np.random.default_rng(3), config, FRAMES, HEIGHT, WIDTH)
    out1, out2 = opencv_pipeline.overlay_clip(v1, (v1, v2), tubes)
    # Pasting is copying: a pixel is pasted (alpha 1) exactly where painting a black and a
    # white clip gives the same value; elsewhere alpha is 0.
    on_low, on_high = opencv_pipeline.overlay_clip(v1, (low, high), tubes)
    pasted = (on_low == on_high).all(-1)
    assert pasted.any(axis=(1, 2)).all()
    assert np.array_equal(out1[pasted], out2[pasted])
    assert np.array_equal(out1[~pasted], v1[~pasted]) and np.array_equal(out2[~pasted], v2[~pasted])
    assert np.array_equal(v1, before[0]) and np.array_equal(v2, before[1])
    assert not (pasted & ~inside_patch_boxes(tubes)).any()


def inside_patch_boxes(tubes):
    """``(T, H, W)``: inside some tubelet's transformed patch's bounding box, with 1.5 px of
    slack for the paste's rounding to whole pixels and the canvas's rounding up."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    inside = np.zeros((FRAMES, HEIGHT, WIDTH), dtype=bool)
    for m in range(len(tubes.src_frame)):
        x0, y0, x1, y1 = tubes.src_box[m]
        maps = opencv_pipeline.linear_maps(tubes.angles[m], tubes.scales[m], tubes.shears[m])
        extent = np.abs(maps) @ np.array([x1 - x0 + 1, y1 - y0 + 1]) / 2 + 1.5  # (T, 2)
        offset = np.abs(np.stack([x, y], -1)[None] - tubes.centers[m][:, None, None])  # (T, H, W, 2)
        inside |= (offset <= extent[:, None, None]).all(-1)
    return inside


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32], ids=str)
def test_opencv_pipeline_replays_translated_tubelets_as_the_reference(dtype):
    # Centres sit on the crop's pixel grid, so the OpenCV pipeline copies the crop; the
    # reference's float32 patch coordinates land within 4e-5 px of the same pixels (u is
    # rounded near 1e-6, times a half size under 37 px), which uint8 rounding absorbs.
    config = TubeletConfig(num_tubelets=3, transforms=())
    v1, v2 = clip_pair(dtype)
    tubelets = sample_tubelets(config, 2, FRAMES, HEIGHT, WIDTH, generator=torch.Generator().manual_seed(4))
    expected = TubeletOverlay(config, backend="torch")(v1, v2, tubelets=tubelets)
    n1, n2 = (v.permute(0, 2, 3, 4, 1).numpy() for v in (v1, v2))
    atol = 0 if dtype == torch.uint8 else 1e-4
    for b, tubes in enumerate(opencv_pipeline.from_tubelets(tubelets)):
        for out, want in zip(opencv_pipeline.overlay_clip(n1[b], (n1[b], n2[b]), tubes), expected):
            np.testing.assert_allclose(out, want[b].permute(1, 2, 3, 0).numpy(), rtol=0, atol=atol)


def test_opencv_sampler_follows_the_config():
    config = TubeletConfig(num_tubelets=4, transforms=("scale", "rotation", "shear"))
    frames, size = 16, np.array([WIDTH, HEIGHT])
    for seed in range(20):
        tubes = opencv_pipeline.sample_clip(np.random.default_rng(seed), config, frames, HEIGHT, WIDTH)
        extent = tubes.src_box[:, 2:] - tubes.src_box[:, :2] + 1
        assert (tubes.src_box[:, :2] >= 0).all() and (tubes.src_box[:, 2:] < size).all()
        assert (extent >= np.floor(config.patch_size[0] * size)).all()
        assert (extent <= np.ceil(config.patch_size[1] * size)).all()
        assert ((tubes.src_frame >= 0) & (tubes.src_frame < frames)).all()
        assert tubes.centers.shape == (4, frames, 2) and tubes.angles.shape == (4, frames)
        assert (tubes.angles[:, 0] == 0).all() and (tubes.scales[:, 0] == 1).all() and (tubes.shears[:, 0] == 0).all()
        assert (np.abs(tubes.angles) <= 90).all() and (np.abs(tubes.shears) <= 1).all()
        assert ((tubes.scales >= 0.5) & (tubes.scales <= 1.5)).all()


def test_opencv_nonlinear_path_is_scipy_smoothing_downsampled():
    points, sigma, frames, size = 48, 8.0, 16, np.array([112.0, 112.0])
    path = opencv_pipeline.nonlinear_path(np.random.default_rng(5), points, sigma, frames, size)
    raw = np.random.default_rng(5).random((points, 2)) * size
    smooth = gaussian_filter1d(raw, sigma, axis=0, mode="reflect")
    # scipy's "reflect": the signal mirrored about its ends (d c b a | a b c d | d c b a),
    # a normalised Gaussian kernel of radius int(4σ + 0.5).
    radius = int(4 * sigma + 0.5)
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    padded = np.pad(raw, ((radius, radius), (0, 0)), mode="symmetric")
    by_hand = np.stack([np.convolve(padded[:, a], kernel / kernel.sum(), mode="valid") for a in range(2)], 1)
    np.testing.assert_allclose(smooth, by_hand, rtol=0, atol=1e-9)
    position = np.linspace(0, points - 1, frames)
    expected = np.stack([np.interp(position, np.arange(points), smooth[:, a]) for a in range(2)], 1)
    np.testing.assert_array_equal(path, expected)


def test_official_loader_names_a_folder_that_is_not_a_clone(tmp_path):
    (tmp_path / "pyvrl" / "datasets").mkdir(parents=True)  # a look-alike without the transform's files
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path.resolve()))) as error:
        official.load(tmp_path)
    assert "not a clone of github.com/fmthoker/tubelet-contrast" in str(error.value)
    assert "pyvrl/models/pretraining/tubeletcontrast/tubelets.py" in str(error.value)
    assert not [name for name in sys.modules if name.split(".")[0] == official.PACKAGE]
