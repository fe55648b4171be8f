"""Efficient per-clip OpenCV pipeline (ours, written from the paper's text), label ``opencv``.

Tubelets for one clip pair at a time, in NumPy and OpenCV, as an efficient implementation
of the text of Tubelet-Contrastive Self-Supervision (§3.2–3.4, §4.1) would run them
inside ``DataLoader`` workers, one clip pair per call. It is not the paper's code (that is
``official.py``'s, timed when the user has a clone of it):

* Sampling (NumPy, :func:`sample_clip`): ``M`` crops of ``H' × W'`` pixels from a random
  frame of ``v1``, each with a random shape; per tubelet a non-linear path of ``N`` uniform points smoothed by
  ``scipy.ndimage.gaussian_filter1d(σ, mode="reflect")`` along x and y and downsampled to
  ``T`` frames (Eq. 6); transforms drawn at ``K`` keyframes (the first, the last and
  ``K-2`` random ones), identity at the first, linearly interpolated (Eq. 7).
* Compositing (OpenCV, :func:`overlay_clip`): per frame and tubelet, the patch and its
  shape mask are warped by ``cv2.warpAffine`` into a canvas enlarged to hold the
  transformed patch (bilinear for the patch, nearest for the mask), and the canvas is
  pasted where its mask is set (``cv2.copyTo``) into copies of ``v1`` and ``v2``; hard
  edges, as the paper pastes patches. Frames whose transform is the identity paste the
  crop without warping.

Clips are ``(T, H, W, C)`` arrays, HWC frames as video decoders and OpenCV use them, uint8
or float32. The geometry follows :mod:`tubelets.params` (pixel centres at integer
coordinates; the patch is scaled, sheared along x then y, rotated clockwise on screen), so
the package's :class:`~tubelets.Tubelets` can be replayed here (:func:`from_tubelets`).
The paper's path is not stretched: smoothing leaves it a few pixels long (see
:class:`tubelets.TubeletConfig`, ``nonlinear_extent``).
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d

from tubelets import SHAPES, TubeletConfig, Tubelets

ELLIPSE, RHOMBUS = SHAPES.index("ellipse"), SHAPES.index("rhombus")


@dataclasses.dataclass(frozen=True)
class ClipTubelets:
    """The ``M`` tubelets of one clip of ``T`` frames.

    src_box:   ``(M, 4)`` int, crop ``(x0, y0, x1, y1)`` of the source clip, inclusive pixels.
    src_frame: ``(M,)`` int, source frame of each crop.
    shape:     ``(M,)`` int, index into :data:`tubelets.SHAPES`.
    centers:   ``(M, T, 2)`` float, patch centre ``(x, y)`` in pixels.
    angles:    ``(M, T)`` float, degrees, clockwise on screen.
    scales:    ``(M, T, 2)`` float, ``(sx, sy)``.
    shears:    ``(M, T, 2)`` float, ``(x-shear, y-shear)``.
    """

    src_box: np.ndarray
    src_frame: np.ndarray
    shape: np.ndarray
    centers: np.ndarray
    angles: np.ndarray
    scales: np.ndarray
    shears: np.ndarray


def sample_clip(rng: np.random.Generator, config: TubeletConfig, frames: int, height: int, width: int) -> ClipTubelets:
    """Draw ``config.num_tubelets`` (at least one) tubelets for a ``frames × height × width`` clip."""
    if config.motion != "nonlinear":
        raise ValueError("the OpenCV pipeline implements the non-linear motion of §3.3 only")
    size = np.array([width, height], dtype=np.float64)
    tubes = [_sample_tubelet(rng, config, frames, size) for _ in range(config.num_tubelets)]
    return ClipTubelets(*(np.array(values) for values in zip(*tubes)))


def _sample_tubelet(rng, config, frames, size):
    extent = np.clip(np.rint(rng.uniform(*config.patch_size, 2) * size), 1, size)
    corner = np.floor(rng.random(2) * (size - extent + 1))
    src_box = np.concatenate([corner, corner + extent - 1]).astype(np.int64)
    src_frame = rng.integers(frames)
    shape = SHAPES.index(config.shapes[rng.integers(len(config.shapes))])
    centers = nonlinear_path(rng, config.nonlinear_points, config.nonlinear_sigma, frames, size)
    times = _keyframe_times(rng, config.keyframes, frames)
    angles, scales, shears = np.zeros(frames), np.ones((frames, 2)), np.zeros((frames, 2))
    if "rotation" in config.transforms:
        angles = _keyframed(rng, times, config.rotation_range, 0.0, 1, frames)[:, 0]
    if "scale" in config.transforms:
        scales = _keyframed(rng, times, config.scale_range, 1.0, 2, frames)
    if "shear" in config.transforms:
        shears = _keyframed(rng, times, config.shear_range, 0.0, 2, frames)
    return src_box, src_frame, shape, centers, angles, scales, shears


def nonlinear_path(rng: np.random.Generator, points: int, sigma: float, frames: int, size: np.ndarray) -> np.ndarray:
    """``(T, 2)`` centres: ``N`` uniform points in ``[0, W] × [0, H]``, smoothed, downsampled (Eq. 6)."""
    raw = rng.random((points, 2)) * size
    smooth = gaussian_filter1d(raw, sigma, axis=0, mode="reflect")
    position = np.linspace(0, points - 1, frames)
    return np.stack([np.interp(position, np.arange(points), smooth[:, axis]) for axis in range(2)], 1)


def _keyframe_times(rng, keyframes, frames):
    """Sorted keyframes: the first, the last and ``keyframes - 2`` distinct others."""
    inner = rng.choice(np.arange(1, frames - 1), size=max(min(keyframes, frames) - 2, 0), replace=False)
    return np.unique(np.concatenate([[0, frames - 1], inner]))


def _keyframed(rng, times, bounds, identity, dims, frames):
    """``(T, dims)``: identity at the first keyframe, uniform in ``bounds`` at the others."""
    values = rng.uniform(*bounds, (len(times), dims))
    values[0] = identity
    return np.stack([np.interp(np.arange(frames), times, values[:, d]) for d in range(dims)], 1)


def overlay_clip(source: np.ndarray, clips: tuple[np.ndarray, ...], tubes: ClipTubelets) -> list[np.ndarray]:
    """Copies of ``clips`` with the tubelets pasted on, patches cut from ``source`` (Eq. 4).

    ``source`` and every clip are ``(T, H, W, C)`` arrays of one dtype; ``source`` is read,
    never written, so it may be one of ``clips``.
    """
    outputs = [clip.copy() for clip in clips]
    frames, height, width = source.shape[:3]
    for m in range(len(tubes.src_frame)):
        x0, y0, x1, y1 = tubes.src_box[m]
        patch = source[tubes.src_frame[m], y0 : y1 + 1, x0 : x1 + 1]
        mask = _shape_mask(tubes.shape[m], y1 - y0 + 1, x1 - x0 + 1)
        maps = linear_maps(tubes.angles[m], tubes.scales[m], tubes.shears[m])
        identity = (maps == np.eye(2)).all(axis=(1, 2))
        for t in range(frames):
            canvas, canvas_mask = (patch, mask) if identity[t] else _warp(patch, mask, maps[t])
            _paste([out[t] for out in outputs], canvas, canvas_mask, tubes.centers[m, t])
    return outputs


def linear_maps(angles: np.ndarray, scales: np.ndarray, shears: np.ndarray) -> np.ndarray:
    """``(T, 2, 2)`` maps from patch offsets to frame offsets, pixels: ``R · Y · X · diag(scale)``."""
    theta = np.deg2rad(angles)
    cos, sin = np.cos(theta), np.sin(theta)
    (sx, sy), (kx, ky) = scales.T, shears.T
    shaped = np.array([[sx, kx * sy], [ky * sx, (1 + kx * ky) * sy]])  # (2, 2, T)
    rotation = np.array([[cos, -sin], [sin, cos]])
    return np.einsum("ikt,kjt->tij", rotation, shaped)


def _shape_mask(shape: int, height: int, width: int) -> np.ndarray:
    """``(height, width)`` uint8, 1 inside the patch shape at pixel centres."""
    uy = (np.arange(height) - (height - 1) / 2)[:, None] / (height / 2)
    ux = (np.arange(width) - (width - 1) / 2)[None, :] / (width / 2)
    if shape == ELLIPSE:
        inside = ux * ux + uy * uy <= 1
    elif shape == RHOMBUS:
        inside = np.abs(ux) + np.abs(uy) <= 1
    else:
        inside = np.ones((height, width), dtype=bool)
    return inside.astype(np.uint8)


def _warp(patch: np.ndarray, mask: np.ndarray, linear: np.ndarray):
    """``patch`` ``(h, w, C)`` and ``mask`` ``(h, w)`` under ``linear`` ``(2, 2)``, in a canvas
    just large enough to hold the transformed patch, their centres aligned."""
    height, width = mask.shape
    half = np.abs(linear) @ np.array([width / 2, height / 2])
    size = np.maximum(np.ceil(2 * half), 1).astype(int)
    centre_in = np.array([(width - 1) / 2, (height - 1) / 2])
    centre_out = (size - 1) / 2
    forward = np.hstack([linear, (centre_out - linear @ centre_in)[:, None]])
    dsize = (int(size[0]), int(size[1]))
    canvas = cv2.warpAffine(patch, forward, dsize, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    canvas_mask = cv2.warpAffine(mask, forward, dsize, flags=cv2.INTER_NEAREST)
    return canvas, canvas_mask


def _paste(frames: list[np.ndarray], canvas: np.ndarray, mask: np.ndarray, centre: np.ndarray) -> None:
    """Copy ``canvas`` where ``mask`` is set into each ``(H, W, C)`` frame, centred at ``centre``."""
    height, width = frames[0].shape[:2]
    rows, cols = mask.shape
    left = int(np.floor(centre[0] - (cols - 1) / 2 + 0.5))
    top = int(np.floor(centre[1] - (rows - 1) / 2 + 0.5))
    x0, y0, x1, y1 = max(left, 0), max(top, 0), min(left + cols, width), min(top + rows, height)
    if x0 >= x1 or y0 >= y1:
        return
    inside = (slice(y0 - top, y1 - top), slice(x0 - left, x1 - left))
    for frame in frames:
        cv2.copyTo(canvas[inside], mask[inside], frame[y0:y1, x0:x1])  # in place: the view is the output


def from_tubelets(tubelets: Tubelets) -> list[ClipTubelets]:
    """The package's parameters as one :class:`ClipTubelets` per clip, to replay them here."""
    fields = [tubelets.src_box, tubelets.src_frame, tubelets.shape, tubelets.centers,
              tubelets.angles, tubelets.scales, tubelets.shears]
    arrays = [field.cpu().numpy() for field in fields]
    return [ClipTubelets(*(array[b] for array in arrays)) for b in range(tubelets.batch_size)]
