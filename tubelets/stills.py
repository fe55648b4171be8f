"""`animate`: clips with pseudo camera motion from still images, painted by :func:`tubelets.composite`.

A camera that pans, zooms and rotates over a still image sees, in every frame, the image
under one affine map; that is one tubelet per frame whose patch is the whole image (the
crop ``src_box`` = the full image, of a one-frame source clip), opaque, rectangular, with
hard edges. :func:`animate` draws the camera's motion, builds those :class:`Tubelets` with
:func:`tubelets.params.compile_inv_affine`, and paints them with :func:`tubelets.composite`
on any backend, so a clip is the reference's bit for bit. Labels come with it, as in
self-supervised motion learning from static images (MoSI, Huang et al., CVPR 2021: classify
the speed and direction of a window sliding over an image): a speed class and a direction
class per clip, and the raw per-frame camera parameters.

Convention (pixels as in :mod:`tubelets.params`: pixel ``(row i, column j)`` is centred at
``(x, y) = (j, i)``, y points down; angles in degrees):

* The camera is a window of the output size ``(h, w)`` over the ``H × W`` image. In frame
  ``t`` the output pixel ``p`` shows the image point
  ``s = centre_t + R(angle_t) · (p - o) / zoom_t``, where ``o = ((w - 1) / 2, (h - 1) / 2)``
  is the output's centre and ``R(a)`` turns by ``a`` degrees clockwise on screen. So
  ``centre_t`` is the window centre in image pixels, ``zoom_t`` is output pixels per image
  pixel (2: the image is shown twice as large), and a positive ``angle_t`` turns the
  window clockwise over the image, the content counter-clockwise on screen.
* **The window stays inside the image**: every output pixel centre shows a point within
  the image's pixel centres, ``[0, W - 1] × [0, H - 1]``, in every frame, so every value is
  interpolated between real pixels. The smallest zoom that guarantees it for any draw
  (:func:`smallest_zoom`) is the default ``zoom``; a smaller ``zoom`` is refused.
* **Pan**: the window moves ``speeds[speed]`` output pixels per frame on screen, in direction
  ``direction · 360 / directions`` degrees counter-clockwise from the output's +x axis (up
  is y decreasing; with 8 directions, class ``k`` is ``tubelets.captions.DIRECTION_NAMES[k]``):
  the image point at the window centre in frame ``t`` is ``speeds[speed]`` pixels the
  other way in frame ``t + 1`` (the content moves opposite to the camera). The path is
  centred on the image: the midpoint of its extent is the image centre, moved by under
  half a pixel when that keeps the window inside the image so that, at zoom 1 without
  rotation, output pixels are image pixels (a still clip at zoom 1 is a crop, sharp).
* **Zoom**: ``zoom_t`` goes geometrically from ``zoom · r0`` to ``zoom · r1``, ``r0`` and
  ``r1`` log-uniform in ``[1, max_zoom]`` (it zooms in or out); otherwise ``zoom_t = zoom``.
* **Rotate**: ``angle_t`` goes linearly from ``a0`` to ``a1``, uniform in
  ``[-max_angle, max_angle]``; otherwise 0.

The draws: six uniforms per image, one ``(B, 6)`` ``torch.rand`` from ``generator`` (on its
device) or the global RNG of the image's device. Everything else is tensor ops over the
batch, without a host sync; the clip is painted in one :func:`tubelets.composite` call.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Sequence

import torch

from . import ops
from .layout import MAX_CHANNELS
from .params import SHAPES, Tubelets, compile_inv_affine, half_size_of
from .sampling import constant

MOTIONS = ("pan", "zoom", "rotate")
"""The camera motions :func:`animate` combines (``motion=``)."""

DRAWS = 6
"""Uniforms drawn per image: speed, direction, zoom start and end, angle start and end."""


@dataclasses.dataclass(frozen=True, eq=False)
class Animation:
    """The camera motion of ``B`` clips of ``T`` frames made by :func:`animate`.

    A single image gives a batch of one, like :class:`Tubelets` (``animation.speed[0]``).

    Labels:

    * ``speed``: ``(B,)`` int64, the index into ``speeds`` of the pan's speed (with the
      default ``speeds=(0, 1, 2, 3)`` class 0 is a still camera); -1 without "pan".
    * ``direction``: ``(B,)`` int64 in ``[0, directions)``, the pan's direction (see
      :mod:`tubelets.stills`); -1 where the camera does not pan (speed 0, or no "pan"),
      which ``CrossEntropyLoss(ignore_index=-1)`` skips.

    The raw camera, per frame:

    * ``centers``: ``(B, T, 2)`` float32, the window centre ``(x, y)``, image pixels.
    * ``zooms``: ``(B, T)`` float32, output pixels per image pixel.
    * ``angles``: ``(B, T)`` float32, the window's rotation, degrees clockwise on screen.

    ``tubelets``: the :class:`Tubelets` that painted the clips (``M = 1``, the whole image).
    Their motion is on screen, in output pixels: the image's centre, scale and angle, the
    camera's inverse. They serve :func:`tubelets.describe` (which names the content's
    motion, opposite to the camera's pan), ``frame_boxes`` and replay with
    :func:`tubelets.composite`.
    """

    speed: torch.Tensor
    direction: torch.Tensor
    centers: torch.Tensor
    zooms: torch.Tensor
    angles: torch.Tensor
    tubelets: Tubelets


def animate(
    image: torch.Tensor,
    frames: int = 16,
    *,
    size: tuple[int, int] | None = None,
    motion: Sequence[str] = ("pan",),
    speeds: Sequence[float] = (0, 1, 2, 3),
    directions: int = 8,
    zoom: float | None = None,
    max_zoom: float = 1.5,
    max_angle: float = 15.0,
    channels: int | None = None,
    generator: torch.Generator | None = None,
    backend: str = "auto",
) -> tuple[torch.Tensor, Animation]:
    """Clips of ``frames`` frames of a camera moving over still images (see the module docstring).

    Args:
        image: ``(C, H, W)`` or ``(B, C, H, W)``, uint8, float16, bfloat16 or float32, any
            strides and device; not modified.
        frames: ``T`` ≥ 1.
        size: the output ``(h, w)`` in pixels; ``None``: the image's ``(H, W)``.
        motion: names from :data:`MOTIONS`, combined: ``"pan"`` (speed and direction
            classes), ``"zoom"``, ``"rotate"``.
        speeds: the pan's speed classes, output pixels per frame, ascending, ≥ 0.
        directions: number of pan directions, ``360 / directions`` degrees apart from +x.
        zoom: output pixels per image pixel (the zoom motion zooms in from there);
            ``None``: :func:`smallest_zoom`, at least 1.
        max_zoom: largest zoom-in factor of ``"zoom"``, ≥ 1.
        max_angle: largest rotation of ``"rotate"``, degrees in ``[0, 180]``.
        channels: the channel count, if more than 4 (more are refused as an image laid
            out channels last unless this says so).
        generator: draws the motion, on its device.
        backend: the compositing backend, as for :func:`tubelets.composite`.

    Returns:
        ``(clip, animation)``: ``clip`` ``(C, T, h, w)``, or ``(B, C, T, h, w)`` for a
        batch, of the image's dtype and device; ``animation`` an :class:`Animation`.

    Raises:
        ValueError: a wrong rank, an argument out of its range, an unknown motion, or a
            ``zoom`` too small for ``size`` (the message gives the smallest).
        TypeError: an unsupported dtype, or an argument of the wrong type.
    """
    ops.check_tensor("image", image, "CHW", "BCHW")
    ops.check_no_grad("image", image)
    _check_channels(image, channels)
    ops.check_backend_name(backend)
    batched = image.dim() == 4
    images = image if batched else image[None]
    height, width = images.shape[-2:]
    frames = _integer("frames", frames, 1)
    size = (height, width) if size is None else _size(size)
    names = _motion(motion)
    speeds = _speeds(speeds)
    directions = _integer("directions", directions, 1)
    max_zoom = _real("max_zoom", max_zoom, 1.0, math.inf)
    max_angle = _real("max_angle", max_angle, 0.0, 180.0)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    needed = smallest_zoom((height, width), size, frames, motion=names, speeds=speeds, directions=directions,
                           max_angle=max_angle)
    if not math.isfinite(needed):
        raise ValueError(f"size {size} does not fit inside the {height}×{width} image at any zoom: a 1-pixel "
                         "side cannot hold a wider window, a rotation or a pan along it")
    if zoom is None:
        zoom = max(1.0, needed)
    else:
        zoom = _real("zoom", zoom, 0.0, math.inf)
        if zoom == 0:
            raise ValueError("zoom must be a finite number > 0, got 0")
        if zoom < needed * (1 - 1e-9):
            raise ValueError(f"size {size} does not fit inside the {height}×{width} image at zoom {zoom} with "
                             f"this motion ({frames} frames, {', '.join(names)}): it needs zoom >= {needed:.6g}; "
                             "give a smaller size, a larger zoom, or zoom=None")

    device = images.device
    draw_on = generator.device if generator is not None else device
    draws = torch.rand(images.shape[0], DRAWS, generator=generator, device=draw_on, dtype=torch.float64).to(device)
    speed, direction, velocity = _pan(draws, names, speeds, directions)
    zooms, angles = _zoom_and_angle(draws, names, frames, zoom, max_zoom, max_angle)
    centers = _window_path(velocity, zooms, angles, (height, width), size)

    tubes = _camera_tubelets(centers, zooms, angles, (height, width), size)
    clip = torch.zeros(images.shape[0], images.shape[1], frames, *size, dtype=image.dtype, device=device)
    # Valid by construction (the window stays inside the image): no value check, no host sync.
    ops.composite(clip, images[:, :, None], tubes, out=clip, backend=backend, validate=False)
    animation = Animation(speed=speed, direction=direction, centers=centers.float(), zooms=zooms.float(),
                          angles=angles.float(), tubelets=tubes)
    return (clip if batched else clip[0]), animation


def smallest_zoom(
    image_size: tuple[int, int],
    size: tuple[int, int],
    frames: int,
    *,
    motion: Sequence[str] = ("pan",),
    speeds: Sequence[float] = (0, 1, 2, 3),
    directions: int = 8,
    max_angle: float = 15.0,
) -> float:
    """The smallest zoom (output pixels per image pixel) at which a ``size = (h, w)`` window
    keeps inside an ``image_size = (H, W)`` image for every draw of :func:`animate` with
    these arguments: per axis, the window's largest half-extent (over the angles within
    ``max_angle`` with "rotate") twice, plus the pan's longest path along that axis, all in
    output pixels, over the image's ``H - 1`` or ``W - 1`` pixels between its pixel centres.

    ``math.inf`` when no zoom fits (an image 1 pixel wide or high that must show more).
    """
    image_height, image_width = image_size
    height, width = size
    half_x, half_y = (width - 1) / 2, (height - 1) / 2
    turn = math.radians(max_angle) if "rotate" in motion else 0.0
    travel = max(speeds) * (frames - 1) if "pan" in motion else 0.0
    if turn > 0:  # the path turns with the window: any axis may take all of it
        reach_x = reach_y = 1.0
    else:
        headings = [2 * math.pi * k / directions for k in range(directions)]
        reach_x = max(abs(math.cos(a)) for a in headings)
        reach_y = max(abs(math.sin(a)) for a in headings)
    zoom = 0.0
    for extent, reach, room in ((_half_extent(half_x, half_y, turn), reach_x, image_width - 1),
                                (_half_extent(half_y, half_x, turn), reach_y, image_height - 1)):
        need = 2 * extent + travel * reach
        if need > 1e-9:
            zoom = max(zoom, need / room if room > 0 else math.inf)
    return zoom


def _half_extent(along: float, across: float, turn: float) -> float:
    """The largest of ``along · |cos a| + across · |sin a|`` over ``|a| ≤ turn`` radians:
    a rectangle's half-extent along one axis when it turns by up to ``turn``."""
    if turn >= math.atan2(across, along):
        return math.hypot(along, across)
    return along * math.cos(turn) + across * math.sin(turn)


def _pan(draws: torch.Tensor, motion: tuple[str, ...], speeds: tuple[float, ...], directions: int
         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Speed and direction classes ``(B,)`` int64 and the camera's velocity on screen ``(B, 2)``
    float64, output pixels per frame."""
    batch, device = draws.shape[0], draws.device
    if "pan" not in motion:
        none = torch.full((batch,), -1, dtype=torch.int64, device=device)
        return none, none.clone(), torch.zeros(batch, 2, dtype=torch.float64, device=device)
    speed = (draws[:, 0] * len(speeds)).long().clamp(max=len(speeds) - 1)
    direction = (draws[:, 1] * directions).long().clamp(max=directions - 1)
    pace = constant(speeds, torch.float64, device)[speed]
    heading = direction.double() * (2 * math.pi / directions)
    velocity = torch.stack([torch.cos(heading), -torch.sin(heading)], -1) * pace[:, None]  # y points down
    return speed, torch.where(pace > 0, direction, -1), velocity


def _zoom_and_angle(draws: torch.Tensor, motion: tuple[str, ...], frames: int, zoom: float, max_zoom: float,
                    max_angle: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-frame zoom and window angle (degrees), each ``(B, T)`` float64."""
    batch, device = draws.shape[0], draws.device
    progress = torch.linspace(0.0, 1.0, frames, dtype=torch.float64, device=device)  # [0.] for one frame
    zooms = torch.full((batch, frames), zoom, dtype=torch.float64, device=device)
    if "zoom" in motion:
        start, end = (math.log(max_zoom) * draws[:, 2:4]).unbind(-1)  # log-uniform factors in [1, max_zoom]
        zooms = zooms * torch.exp(start[:, None] + (end - start)[:, None] * progress)
    angles = torch.zeros(batch, frames, dtype=torch.float64, device=device)
    if "rotate" in motion:
        start, end = ((2 * draws[:, 4:6] - 1) * max_angle).unbind(-1)
        angles = start[:, None] + (end - start)[:, None] * progress
    return zooms, angles


def _rotate(vector: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """``(..., 2)`` vectors turned clockwise on screen by ``degrees`` ``(...)``."""
    theta = torch.deg2rad(degrees)
    cos, sin = torch.cos(theta), torch.sin(theta)
    x, y = vector.unbind(-1)
    return torch.stack([cos * x - sin * y, sin * x + cos * y], -1)


def _window_path(velocity: torch.Tensor, zooms: torch.Tensor, angles: torch.Tensor, image_size: tuple[int, int],
                 size: tuple[int, int]) -> torch.Tensor:
    """``(B, T, 2)`` float64 window centres, image pixels: the pan, centred on the image."""
    # Frame t's window moves by velocity turned by its angle, in image pixels (÷ its zoom), so
    # the point under the window centre moves exactly `velocity` on screen.
    steps = _rotate(velocity[:, None], angles[:, 1:]) / zooms[:, 1:, None]
    path = torch.cat([torch.zeros_like(velocity)[:, None], steps], 1).cumsum(1)
    image_centre = _centre(image_size, path.device)
    centers = image_centre + path - (path.amax(1, keepdim=True) + path.amin(1, keepdim=True)) / 2
    # Snap: the nearest path whose first window centre sits on the output's pixel grid, per
    # axis, where it keeps inside the image (it moves by at most half a pixel).
    out_centre = _centre(size, path.device)
    offset = centers[:, :1] - out_centre
    snapped = centers + (torch.round(offset) - offset)
    reach = _window_reach(zooms, angles, size)
    limit = image_centre * 2
    inside = ((snapped - reach >= 0) & (snapped + reach <= limit)).all(1, keepdim=True)
    return torch.where(inside, snapped, centers)


def _centre(size: tuple[int, int], device: torch.device) -> torch.Tensor:
    """``(2,)`` float64 ``(x, y)`` centre of an ``(h, w)`` frame, pixels; made once per size
    and device (no copy from the host, which would wait for the device)."""
    return constant(((size[1] - 1) / 2, (size[0] - 1) / 2), torch.float64, device)


def _window_reach(zooms: torch.Tensor, angles: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``(B, T, 2)`` the window's half-extent along image x and y, image pixels, to the
    centres of its corner pixels."""
    theta = torch.deg2rad(angles)
    cos, sin = torch.cos(theta).abs(), torch.sin(theta).abs()
    half_x, half_y = (size[1] - 1) / 2, (size[0] - 1) / 2
    return torch.stack([cos * half_x + sin * half_y, sin * half_x + cos * half_y], -1) / zooms[..., None]


def _camera_tubelets(centers: torch.Tensor, zooms: torch.Tensor, angles: torch.Tensor, image_size: tuple[int, int],
                     size: tuple[int, int]) -> Tubelets:
    """The :class:`Tubelets` (``M = 1``) that paint the image as the camera sees it: the
    camera's inverse, on screen, ``p = o + zoom · R(-angle) · (s - centre)``."""
    batch, frames, device = centers.shape[0], centers.shape[1], centers.device
    image_centre, out_centre = _centre(image_size, device), _centre(size, device)
    on_screen = out_centre + zooms[..., None] * _rotate(image_centre - centers, -angles)  # (B, T, 2)
    src_box = constant((0, 0, image_size[1] - 1, image_size[0] - 1), torch.int32, device).expand(batch, 1, 4)
    src_box = src_box.contiguous()
    scales = zooms[:, None, :, None].expand(-1, -1, -1, 2)
    shears = torch.zeros(batch, 1, frames, 2, dtype=torch.float64, device=device)
    turn = -angles[:, None]
    return Tubelets(
        inv_affine=compile_inv_affine(on_screen[:, None], half_size_of(src_box)[:, :, None], turn, scales, shears),
        opacity=torch.ones(batch, 1, frames, device=device),
        src_box=src_box,
        src_frame=torch.zeros(batch, 1, dtype=torch.int32, device=device),
        shape=torch.full((batch, 1), SHAPES.index("rectangle"), dtype=torch.int32, device=device),
        softness=torch.zeros(batch, 1, device=device),
        centers=on_screen[:, None].float(),
        angles=turn.float(),
        scales=scales.float().contiguous(),
        shears=shears.float(),
    )


# --- argument checks ---------------------------------------------------------------------------


def _check_channels(image: torch.Tensor, channels: int | None) -> None:
    """Raise unless ``image`` has ``channels`` channels, or at most :data:`MAX_CHANNELS`."""
    found = image.shape[-3]
    if channels is not None:
        if found != _integer("channels", channels, 1):
            raise ValueError(f"image has {found} channels as (B, C, H, W) or (C, H, W) {tuple(image.shape)}, "
                             f"but channels={channels}")
        return
    if found > MAX_CHANNELS:
        order = "0, 3, 1, 2" if image.dim() == 4 else "2, 0, 1"
        hint = (f"it looks like channels last: pass image.permute({order})" if image.shape[-1] <= MAX_CHANNELS
                else f"no image layout fits ({MAX_CHANNELS} channels at most)")
        raise ValueError(f"image has {found} channels as (B, C, H, W) or (C, H, W) {tuple(image.shape)}: {hint}; "
                         f"if it really has {found} channels, pass channels={found}")


def _integer(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _real(name: str, value: object, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not low <= float(value) <= high:
        bounds = f">= {low}" if high == math.inf else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be a finite number {bounds}, got {value!r}")
    if not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _size(size: object) -> tuple[int, int]:
    if not (isinstance(size, (tuple, list)) and len(size) == 2):
        raise ValueError(f"size must be an (h, w) pair of integers >= 1, got {size!r}")
    return _integer("size[0] (h)", size[0], 1), _integer("size[1] (w)", size[1], 1)


def _motion(motion: object) -> tuple[str, ...]:
    if isinstance(motion, str) or not isinstance(motion, (tuple, list)):
        raise TypeError(f"motion must be a tuple of names like ('pan',), got {motion!r}")
    if not motion:
        raise ValueError(f"motion: give at least one of {', '.join(MOTIONS)}")
    for name in motion:
        if name not in MOTIONS:
            raise ValueError(f"motion: unknown {name!r}; choose from {', '.join(MOTIONS)}")
    return tuple(motion)


def _speeds(speeds: object) -> tuple[float, ...]:
    message = f"speeds must be a non-empty ascending tuple of distinct finite numbers >= 0, got {speeds!r}"
    if isinstance(speeds, str) or not isinstance(speeds, (tuple, list)) or not speeds:
        raise ValueError(message)
    if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) for v in speeds):
        raise ValueError(message)
    values = tuple(float(v) for v in speeds)
    if values[0] < 0 or any(b <= a for a, b in zip(values, values[1:])):
        raise ValueError(message)
    return values
