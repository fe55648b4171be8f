"""`sample_tubelets`: draw ``M`` tubelets for each clip of a batch, vectorised over ``(B, M)``.

Every random number comes from the counter-based generator of :mod:`tubelets.philox`, keyed
by one 64-bit seed: the only draw from torch's RNG is that seed (from ``generator``, or the
global RNG of the video's device that ``torch.manual_seed`` seeds), made on the device, so
sampling never waits for the device. The same seed gives the same tubelets on every device
and backend, and a clip's tubelets do not depend on the batch size.

Three implementations compute the same function of the seed:

==========  ==========  ================================================================
backend     device      implementation
==========  ==========  ================================================================
``torch``   any         this module, plain PyTorch in float64: the readable reference
                        (~540 small ops for the paper config, each a GPU launch)
``cpu``     CPU         ``csrc/sampler.h`` (C++), one call for the whole batch
``triton``  CUDA        ``kernels/sampler.py``, one launch for the whole batch (CPU
                        tensors too under ``TRITON_INTERPRET=1``, slowly, for tests)
==========  ==========  ================================================================

``backend="auto"`` takes ``cpu`` for CPU tensors when it is built and ``triton`` for CUDA
tensors when Triton runs there, else ``torch``. All compute in float64 and store float32,
so they agree to float32 rounding (tests/test_sampling.py, tests/test_triton_sampler.py).
"""
from __future__ import annotations

import functools
import math
import numbers

import torch

from . import distributed, philox, trajectories
from .config import INTERPOLATIONS, TubeletConfig
from .params import SHAPES, Tubelets, compile_inv_affine, crop_size
from .philox import Stream

SAMPLERS = ("torch", "cpu", "triton")


def sample_tubelets(
    config: TubeletConfig,
    batch_size: int,
    frames: int,
    height: int,
    width: int,
    *,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
    seed: torch.Tensor | None = None,
    backend: str = "auto",
) -> Tubelets:
    """Sample tubelets for ``batch_size`` clips of ``frames × height × width`` pixels.

    Patches are cropped from the same frame size (the source clip ``v1`` of §3.2);
    the returned :class:`Tubelets` are sorted per clip, largest patch first (paint order).

    Args:
        device: where the tubelets go (CPU by default).
        generator: draws the seed; its device is where the seed is drawn.
        seed: a 0-dim int64 tensor to use instead of a draw (its 64 bits are the key).
        backend: ``"auto"`` or one of :data:`SAMPLERS`.
    """
    if not isinstance(config, TubeletConfig):
        raise TypeError(f"config must be a TubeletConfig, got {type(config).__name__}")
    sizes = {"batch_size": batch_size, "frames": frames, "height": height, "width": width}
    for name, value in sizes.items():
        low = 0 if name == "batch_size" else 1
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    batch_size, frames, height, width = (int(value) for value in sizes.values())
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    if seed is not None and not (isinstance(seed, torch.Tensor) and seed.shape == () and seed.dtype == torch.int64):
        raise ValueError(f"seed must be a 0-dim int64 tensor, got {seed!r}")
    device = torch.device(device) if device is not None else torch.device("cpu")
    if seed is None:
        seed = draw_seed(device, generator)
    seed = seed.to(device)
    name = resolve_sampler(backend, device)
    if name == "cpu":
        from . import native
        return native.sample_cpu(config, seed, batch_size, frames, height, width)
    if name == "triton":
        from . import native
        return native.sample_triton(config, seed, batch_size, frames, height, width)
    return sample_reference(config, seed, batch_size, frames, height, width)


def draw_seed(device: torch.device, generator: torch.Generator | None = None) -> torch.Tensor:
    """A 0-dim int64 tensor of 64 random bits from ``generator`` (or the global RNG of
    ``device``), on the generator's device: one op, and the host never reads it.

    A draw from the global RNG is folded with the DDP rank (:mod:`tubelets.distributed`:
    one more op on ranks above 0, none otherwise), so ranks seeded alike draw different
    seeds; a draw from ``generator`` is used as it is.
    """
    if generator is not None:
        return _draw_from(generator)
    # generator=None spelled out: that overload (aten.randint.low_generator) stays torch's own
    # draw under inductor, which would replace aten.randint.low by its own RNG (another seed).
    seed = torch.randint(-(2**63), 2**63 - 1, (), generator=None, device=device, dtype=torch.int64)
    return distributed.fold(seed, distributed.rank_for_seeding())


GENERATOR_UNDER_FULLGRAPH = (
    "tubelets: torch.compile cannot put a torch.Generator into a graph, so a seed drawn from "
    "`generator=` runs outside it: compile with fullgraph=False (a graph break here), or "
    "seed the global RNG with torch.manual_seed and pass no generator"
)


@torch.compiler.disable(reason=GENERATOR_UNDER_FULLGRAPH)
def _draw_from(generator: torch.Generator) -> torch.Tensor:
    """The seed from ``generator``, eagerly: under torch.compile a graph break
    (``fullgraph=True`` raises, with :data:`GENERATOR_UNDER_FULLGRAPH`)."""
    return torch.randint(-(2**63), 2**63 - 1, (), generator=generator, device=generator.device, dtype=torch.int64)


def resolve_sampler(backend: str, device: torch.device) -> str:
    """The sampler that ``backend`` names for tensors on ``device``; raises if unusable."""
    from . import native, ops

    if backend == "auto":
        if device.type == "cpu" and native.CPU_UNAVAILABLE is None:
            return "cpu"
        if device.type == "cuda" and ops.unavailable("triton", device) is None:
            return "triton"
        return "torch"
    if backend not in SAMPLERS:
        raise ValueError(f"backend: unknown sampler {backend!r}; choose from auto, {', '.join(SAMPLERS)}")
    if backend == "cpu":
        if device.type != "cpu":
            raise RuntimeError(f"sampler 'cpu' cannot sample on {device.type}: it samples CPU tensors only")
        if native.CPU_UNAVAILABLE is not None:
            raise RuntimeError(f"sampler 'cpu' is unavailable: {native.CPU_UNAVAILABLE}")
    if backend == "triton":
        reason = ops.unavailable("triton", device)
        if reason is not None:
            raise RuntimeError(f"sampler 'triton' cannot sample on {device.type}: {reason}")
    return backend


def sample_reference(config: TubeletConfig, seed: torch.Tensor, batch_size: int, frames: int, height: int,
                     width: int) -> Tubelets:
    """The reference sampler: plain PyTorch on ``seed``'s device, float64 throughout."""
    if config.same_on_batch and batch_size != 1:
        # Clip 0's draws for every clip: a batch of one, repeated.
        one = sample_reference(config, seed, 1, frames, height, width)
        return one._map(lambda field: field.expand(batch_size, *field.shape[1:]).contiguous())
    device = seed.device
    count = config.max_tubelets
    batch = (batch_size, count)

    table = philox.uniform(seed, batch_size, max(count, 1), len(Stream), max_draws(config, frames))

    def uniform(stream: Stream, shape: tuple[int, ...]) -> torch.Tensor:
        """``shape`` = ``(B, M, *draws)`` (``M`` = 1 for per-clip draws): the draws of ``stream``."""
        clips, tubelets, *tail = shape
        return table[:, :tubelets, stream, : math.prod(tail)].reshape(shape)

    size = constant((float(width), float(height)), torch.float64, device)
    src_box, src_frame = _crops(uniform, batch, config, frames, size)
    # Paint order: largest crop first. Every other draw is independent of the crop, so
    # sorting the crops alone gives the same distribution as sorting whole tubelets.
    order = _largest_first(src_box)
    src_box, src_frame = src_box.gather(1, order[..., None].expand(-1, -1, 4)), src_frame.gather(1, order)
    shape = constant(tuple(SHAPES.index(s) for s in config.shapes), torch.int64, device)
    choice = (uniform(Stream.SHAPE, (*batch, 1))[..., 0] * len(config.shapes)).long()
    shape = shape[choice.clamp(max=len(config.shapes) - 1)]
    softness = _between(uniform(Stream.SOFTNESS, (*batch, 1))[..., 0], config.softness)
    softness = softness * (uniform(Stream.SOFT_EDGE, (*batch, 1))[..., 0] < config.softness_p).double()
    applied = (uniform(Stream.APPLIED, (batch_size, 1, 1)) < config.p).double()
    if config.opacity_keyframes:  # keyframes of their own, linear in between (opacity is not eased)
        opacity_times = trajectories.keyframe_times(uniform, Stream.OPACITY_TIMES, batch, config.keyframes, frames,
                                                    device)
        levels = _between(uniform(Stream.OPACITY, (*opacity_times.shape, 1)), config.opacity)
        opacity = trajectories.interpolate(opacity_times, levels, frames)[..., 0] * applied
    else:
        opacity = _between(uniform(Stream.OPACITY, (*batch, 1)), config.opacity) * applied
    opacity = (opacity * _active(uniform, config.tubelet_counts, order)).expand(*batch, frames)
    easing = _easing(uniform, config.interpolation, batch, device)

    motion_times = None
    if config.motion == "static":
        centers = trajectories.static_path(uniform, batch, frames, size)
    elif config.motion == "linear":
        motion_times = trajectories.keyframe_times(uniform, Stream.MOTION_TIMES, batch, config.keyframes, frames,
                                                   device)
        centers = trajectories.linear_path(uniform, motion_times, config.max_step, frames, size, easing)
    else:
        centers = trajectories.nonlinear_path(
            uniform, batch, config.nonlinear_points, config.nonlinear_sigma,
            config.nonlinear_extent, frames, size, config.nonlinear_square,
        )
    half = crop_size(src_box).double()[:, :, None] / 2  # (B, M, 1, 2)
    centers = _snap_to_crop_grid(centers, src_box)

    times = trajectories.keyframe_times(uniform, Stream.TRANSFORM_TIMES, batch, config.keyframes, frames, device)
    identity = torch.zeros(*batch, frames, 2, dtype=torch.float64, device=device)
    angles = identity[..., 0]
    scales, shears = identity + 1, identity
    if "rotation" in config.transforms and config.rotation_step is not None:
        angles = trajectories.rotation_walk(uniform, times, config.rotation_step, frames, easing)
    elif "rotation" in config.transforms:
        angles = trajectories.keyframed(uniform, Stream.ROTATION, times, *config.rotation_range, 0.0, 1, frames,
                                     easing)[..., 0]
    if "scale" in config.transforms:
        scales = trajectories.keyframed(uniform, Stream.SCALE, times, *config.scale_range, 1.0, 2, frames, easing)
    if "shear" in config.transforms:
        shears = trajectories.keyframed(uniform, Stream.SHEAR, times, *config.shear_range, 0.0, 2, frames, easing)

    return Tubelets(
        inv_affine=compile_inv_affine(centers, half, angles, scales, shears),
        opacity=opacity.float().contiguous(),
        src_box=src_box.int(),
        src_frame=src_frame.int(),
        shape=shape.int(),
        softness=softness.float(),
        centers=centers.float().contiguous(),
        angles=angles.float().contiguous(),
        scales=scales.float().contiguous(),
        shears=shears.float().contiguous(),
        motion_keyframes=motion_times,
        transform_keyframes=times,
    )


@functools.lru_cache(maxsize=64)
def constant(values: tuple, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A small constant tensor, made once per device: a copy from the host inside a CUDA
    graph capture is an error, so the first (uncaptured) call makes it. Not to be modified."""
    return torch.tensor(values, dtype=dtype, device=device)


def max_draws(config: TubeletConfig, frames: int) -> int:
    """The most draws any stream of one tubelet takes (see :class:`~tubelets.philox.Stream`);
    a path has ``min(keyframes, frames)`` keyframes, so a huge ``keyframes`` costs nothing."""
    return max(2, frames - 2, 2 * min(config.keyframes, frames), 2 * config.nonlinear_points)


def _between(unit: torch.Tensor, bounds: tuple[float, float]) -> torch.Tensor:
    low, high = bounds
    return low + (high - low) * unit


def _active(uniform: trajectories.Uniform, counts: tuple[int, int], order: torch.Tensor) -> torch.Tensor:
    """``(B, M, 1)`` float64, 1 for the slots a clip paints, else 0: each clip draws its count
    uniformly from ``low … high``, and paints the tubelets drawn first (slot ``order[b, m]``
    before the largest-first sort), so that activity is independent of the crop sizes."""
    low, high = counts
    if low == high:
        return torch.ones(*order.shape, 1, dtype=torch.float64, device=order.device)
    drawn = low + (uniform(Stream.COUNT, (order.shape[0], 1, 1)) * (high - low + 1)).floor().clamp(max=high - low)
    return (order[..., None] < drawn).double()


def _easing(uniform: trajectories.Uniform, interpolation: str, batch: tuple[int, int],
            device: torch.device) -> torch.Tensor | None:
    """``(B, M)`` int64 indices into :data:`~tubelets.config.INTERPOLATIONS` (``None`` for
    linear): one of the first three for every tubelet, or for ``"random"`` one drawn each."""
    if interpolation == "linear":
        return None
    if interpolation == "random":
        return (uniform(Stream.EASING, (*batch, 1))[..., 0] * 3).long().clamp(max=2)
    return torch.full(batch, INTERPOLATIONS.index(interpolation), dtype=torch.int64, device=device)


def _crops(uniform: trajectories.Uniform, batch: tuple[int, int], config: TubeletConfig, frames: int,
           size: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Crop boxes ``(B, M, 4)`` int64 inside the frame and their source frames ``(B, M)``.

    Width and height are drawn independently, each a fraction ``patch_size`` of the
    frame's width or height (§4.1: 16 to 64 px at 112 px), at least one pixel; or, with
    ``patch_scales``, one of :func:`patch_anchors` (fractions of the frame's width and
    height) times ``exp(U(-j, j))`` per axis, ``j = patch_jitter``.
    """
    unit = uniform(Stream.CROP_SIZE, (*batch, 2))
    if config.patch_scales:
        anchors = constant(patch_anchors(config), torch.float64, size.device).view(-1, 2)
        pick = (uniform(Stream.PATCH_ANCHOR, (*batch, 1))[..., 0] * len(anchors)).long().clamp(max=len(anchors) - 1)
        jitter = config.patch_jitter
        extent = anchors[pick] * torch.exp(-jitter + 2 * jitter * unit) * size
    else:
        extent = _between(unit, config.patch_size) * size
    extent = extent.round().clamp(min=1.0)
    extent = torch.minimum(extent, size)
    corner = (uniform(Stream.CROP_CORNER, (*batch, 2)) * (size - extent + 1)).floor()
    corner = torch.minimum(corner, size - extent)
    src_box = torch.cat([corner, corner + extent - 1], -1).long()
    src_frame = (uniform(Stream.SOURCE_FRAME, (*batch, 1))[..., 0] * frames).long().clamp(max=frames - 1)
    return src_box, src_frame


def patch_anchors(config: TubeletConfig) -> tuple[float, ...]:
    """The patch sizes of ``patch_scales × patch_ratios``, flattened ``(w, h)`` pairs in
    fractions of the frame's width and height: ``(s·√r, s/√r)`` for each ratio ``r`` (width
    over height), then each scale ``s``; the samplers pick one uniformly."""
    return tuple(v for r in config.patch_ratios for s in config.patch_scales for v in (s * math.sqrt(r), s / math.sqrt(r)))


def _snap_to_crop_grid(centers: torch.Tensor, src_box: torch.Tensor) -> torch.Tensor:
    """Shift centres by under half a pixel so output pixels land on source pixel centres.

    A crop of even width has its centre between two pixels; a patch whose centre has the
    same fractional part samples source pixel centres while it is only translated (up
    to the float32 rounding of its map), so the crop is not blurred. Rounds half to even.
    """
    phase = ((src_box[..., :2] + src_box[..., 2:]).double() * 0.5).frac()[:, :, None]
    return torch.round(centers - phase) + phase


def _largest_first(src_box: torch.Tensor) -> torch.Tensor:
    """``(B, M)`` permutation that sorts each clip's tubelets by crop area, largest first
    (ties keep their order)."""
    area = crop_size(src_box).prod(-1)
    return torch.sort(area, dim=-1, descending=True, stable=True).indices
