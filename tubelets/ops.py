"""`composite`: paint tubelets into videos, one registered PyTorch op over four backends.

==========  ===========  ==================================================
backend     device       implementation
==========  ===========  ==================================================
``torch``   any          :mod:`tubelets.reference` (the oracle)
``cpu``     CPU          ``csrc/composite_cpu.cpp`` (C++, OpenMP)
``cuda``    CUDA         ``csrc/composite_cuda.cu``
``triton``  CUDA         ``kernels/composite.py`` (CPU tensors too under
                         ``TRITON_INTERPRET=1``)
==========  ===========  ==================================================

``backend="auto"`` takes the first available of triton → cuda → torch on CUDA tensors
and cpu → torch on CPU tensors. Asking for an unavailable backend raises with the reason;
``tubelets info`` lists them all.

The in-place op ``tubelets::paint_`` is registered with :func:`torch.library.custom_op`,
so it runs inside ``torch.compile(fullgraph=True)``; checks that need tensor values (crop
boxes inside the source, finite maps) run inside it, where values are real.
"""
from __future__ import annotations

import functools
from typing import Callable

import torch

from . import reference
from .params import SHAPES, Tubelets, frame_boxes

DTYPES = (torch.uint8, torch.float16, torch.bfloat16, torch.float32)
BACKENDS = ("torch", "cpu", "cuda", "triton")


def composite(
    video: torch.Tensor,
    source: torch.Tensor,
    tubelets: Tubelets,
    *,
    backend: str = "auto",
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """A copy of ``video`` with ``tubelets`` painted on, patches cut from ``source``.

    Args:
        video: ``(B, C, T, H, W)`` uint8, float16, bfloat16 or float32, any strides. Not modified.
        source: ``(B, C, Ts, Hs, Ws)``, same dtype and device; may be ``video`` itself.
        tubelets: ``B`` clips × ``M`` tubelets × ``T`` frames, on ``video``'s device.
        backend: ``"auto"`` or one of :data:`BACKENDS`.
        out: optional ``(B, C, T, H, W)`` tensor to write into; must not overlap ``source``.
    Returns:
        ``out``, or a new tensor with ``video``'s memory layout.
    """
    check_tensor("video", video, "BCTHW")
    if out is None:
        out = torch.empty_like(video)
    elif not isinstance(out, torch.Tensor):
        raise TypeError(f"out must be a torch.Tensor or None, got {type(out).__name__}")
    elif out.shape != video.shape or out.dtype != video.dtype or out.device != video.device:
        raise ValueError(
            f"out: expected {tuple(video.shape)} {video.dtype} on {video.device}, "
            f"got {tuple(out.shape)} {out.dtype} on {out.device}"
        )
    if out.data_ptr() != video.data_ptr() or out.stride() != video.stride():
        out.copy_(video)
    paint_(out.unsqueeze(0), source, tubelets, backend=backend)
    return out


def paint_(canvas: torch.Tensor, source: torch.Tensor, tubelets: Tubelets, *, backend: str = "auto") -> None:
    """Paint ``tubelets`` into every copy of ``canvas`` ``(P, B, C, T, H, W)`` in place.

    All ``P`` copies (e.g. both clips of a positive pair) are painted in one launch.
    ``canvas`` must not share memory with ``source``.
    """
    _check_videos(canvas, source, tubelets)
    name = resolve_backend(backend, canvas.device)
    height, width = canvas.shape[-2:]
    torch.ops.tubelets.paint_(
        canvas,
        source,
        tubelets.inv_affine.float().contiguous(),
        tubelets.opacity.float().contiguous(),
        frame_boxes(tubelets.inv_affine, height, width),
        tubelets.src_box.int().contiguous(),
        tubelets.src_frame.int().contiguous(),
        tubelets.shape.int().contiguous(),
        tubelets.softness.float().contiguous(),
        name,
    )


def resolve_backend(backend: str, device: torch.device) -> str:
    """The backend that ``backend`` names for tensors on ``device``; raises if unusable."""
    if backend == "auto":
        preference = ("triton", "cuda", "torch") if device.type == "cuda" else ("cpu", "torch")
        return next(name for name in preference if unavailable(name, device) is None)
    check_backend_name(backend)
    reason = unavailable(backend, device)
    if reason is not None:
        raise RuntimeError(f"backend {backend!r} cannot run on {device.type} tensors: {reason}")
    return backend


def check_backend_name(backend: str) -> None:
    """Raise unless ``backend`` is ``"auto"`` or one of :data:`BACKENDS`."""
    if backend != "auto" and backend not in BACKENDS:
        raise ValueError(f"backend: unknown {backend!r}; choose from auto, {', '.join(BACKENDS)}")


def unavailable(backend: str, device: torch.device) -> str | None:
    """Why ``backend`` cannot paint tensors on ``device``, or ``None`` if it can."""
    if backend == "torch":
        return None
    if backend == "cpu":
        from . import native
        return "it paints CPU tensors only" if device.type != "cpu" else native.CPU_UNAVAILABLE
    if backend == "cuda":
        from . import native
        return "it paints CUDA tensors only" if device.type != "cuda" else native.CUDA_UNAVAILABLE
    try:
        from . import kernels
    except ImportError:  # running from a source tree: kernels/ is installed as tubelets.kernels
        return "tubelets.kernels is not installed; pip install the package"
    return kernels.unavailable(device)


@functools.cache
def _implementation(backend: str) -> Callable[..., None]:
    if backend == "torch":
        return reference.paint_
    if backend == "cpu":
        from . import native
        return native.paint_cpu_
    if backend == "cuda":
        from . import native
        return native.paint_cuda_
    from . import kernels
    return kernels.paint_triton_


@torch.library.custom_op("tubelets::paint_", mutates_args=("canvas",))
def _paint_op(
    canvas: torch.Tensor,
    source: torch.Tensor,
    inv_affine: torch.Tensor,
    opacity: torch.Tensor,
    boxes: torch.Tensor,
    src_box: torch.Tensor,
    src_frame: torch.Tensor,
    shape: torch.Tensor,
    softness: torch.Tensor,
    backend: str,
) -> None:
    if canvas.numel() == 0 or inv_affine.shape[1] == 0:
        return
    if canvas.untyped_storage().data_ptr() == source.untyped_storage().data_ptr():
        raise ValueError("the video being painted must not share memory with source; paint a copy")
    _check_parameters(canvas, source, inv_affine, opacity, boxes, src_box, src_frame, shape, softness)
    _implementation(backend)(canvas, source, inv_affine, opacity, boxes, src_box, src_frame, shape, softness)


@_paint_op.register_fake
def _(canvas, source, inv_affine, opacity, boxes, src_box, src_frame, shape, softness, backend) -> None:
    return None


def check_tensor(name: str, tensor, *layouts: str) -> None:
    """Raise unless ``tensor`` is a tensor of a supported dtype with the rank of a layout
    (``"BCTHW"``, say) among ``layouts``."""
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    if tensor.dim() not in [len(layout) for layout in layouts]:
        shapes = " or ".join(f"({', '.join(layout)})" for layout in layouts)
        raise ValueError(f"{name} must have shape {shapes}, got {tuple(tensor.shape)}")
    if tensor.dtype not in DTYPES:
        supported = ", ".join(str(d) for d in DTYPES)
        raise TypeError(f"{name}: dtype {tensor.dtype} is not supported; use one of {supported}")


def _check_videos(canvas: torch.Tensor, source: torch.Tensor, tubelets: Tubelets) -> None:
    """Shapes, dtypes and devices; no tensor values are read (safe under torch.compile)."""
    check_tensor("canvas", canvas, "PBCTHW")
    check_tensor("source", source, "BCTHW")
    if source.dtype != canvas.dtype or source.device != canvas.device:
        raise ValueError(f"source must match video: {source.dtype} on {source.device} "
                         f"vs {canvas.dtype} on {canvas.device}")
    batch, channels, frames = canvas.shape[1:4]
    if source.shape[:2] != (batch, channels):
        raise ValueError(f"source must have the video's batch size and channels {(batch, channels)}, "
                         f"got {tuple(source.shape[:2])}")
    if not isinstance(tubelets, Tubelets):
        raise TypeError(f"tubelets must be a Tubelets, got {type(tubelets).__name__}")
    if tubelets.device != canvas.device:  # the device of inv_affine
        raise ValueError(f"tubelets are on {tubelets.device} but the video is on {canvas.device}; "
                         "use tubelets.to(video.device)")
    if tubelets.batch_size != batch or tubelets.num_frames != frames:
        raise ValueError(f"tubelets were sampled for {tubelets.batch_size} clips of {tubelets.num_frames} "
                         f"frames; the video has {batch} clips of {frames} frames")
    for name in ("opacity", "src_box", "src_frame", "shape", "softness"):
        # A tensor on another device (meta, say) would send the whole op to that device's kernel.
        if getattr(tubelets, name).device != canvas.device:
            raise ValueError(f"tubelets.{name} is on {getattr(tubelets, name).device}, the video on {canvas.device}")


def _check_parameters(canvas, source, inv_affine, opacity, boxes, src_box, src_frame, shape, softness) -> None:
    """Parameter shapes and values a kernel relies on to stay inside its buffers."""
    batch, frames, count = canvas.shape[1], canvas.shape[3], inv_affine.shape[1]
    for name, value, size in (
        ("inv_affine", inv_affine, (batch, count, frames, 2, 3)), ("opacity", opacity, (batch, count, frames)),
        ("boxes", boxes, (batch, count, frames, 4)), ("src_box", src_box, (batch, count, 4)), ("src_frame", src_frame, (batch, count)),
        ("shape", shape, (batch, count)), ("softness", softness, (batch, count)),
    ):
        if value.shape != size or value.device != canvas.device:
            raise ValueError(f"tubelets.{name} must have shape {size} on {canvas.device}, "
                             f"got {tuple(value.shape)} on {value.device}")
    frames, height, width = source.shape[2:]
    if not torch.isfinite(inv_affine).all():
        raise ValueError("tubelets.inv_affine must be finite")
    if not ((opacity >= 0) & (opacity <= 1)).all():
        raise ValueError("tubelets.opacity must lie in [0, 1]")
    if not (torch.isfinite(softness) & (softness >= 0)).all():
        raise ValueError("tubelets.softness must be finite and >= 0")
    if not ((shape >= 0) & (shape < len(SHAPES))).all():
        raise ValueError(f"tubelets.shape must index {SHAPES}")
    if not ((src_frame >= 0) & (src_frame < frames)).all():
        raise ValueError(f"tubelets.src_frame must lie in [0, {frames}) for this source")
    x0, y0, x1, y1 = src_box.unbind(-1)
    if not ((x0 >= 0) & (y0 >= 0) & (x0 <= x1) & (y0 <= y1) & (x1 < width) & (y1 < height)).all():
        raise ValueError(f"tubelets.src_box must be non-empty crops inside the {width}×{height} source")
