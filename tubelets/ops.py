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

The op ``tubelets::paint_`` is registered with torch's dispatcher (:mod:`tubelets.library`),
so it runs inside ``torch.compile(fullgraph=True)``. It writes each output pixel once: the input
pixel, with the tubelets painted over it (or paints outputs in place). Every crop is read
before any pixel is written, so the source may be an output itself (painting ``v1`` in
place with patches cut from it): the C++ backend reads the crops first, the others paint
from a copy of the ``M`` source frames of each clip. Every check that can refuse a call
runs before anything is written.

Validation: the kernels clamp every index they compute (crop, source frame, boxes), so no
parameter values make them read or write outside a tensor; values are checked only to
give a clear error. Freshly sampled tubelets are valid by construction and are not checked
(no host sync); tubelets given by the caller are checked by default (``validate=True``: on
CPU in one pass of the C++ backend, elsewhere one read of a flag by the host, a device sync
on a GPU), inside the op, where their values are real even under ``torch.compile``. During
a CUDA graph capture, where the host cannot read the device, they are not checked.
"""
from __future__ import annotations

import dataclasses
import functools
import warnings
from typing import Callable

import torch

from . import library, output_memory, reference
from .aliasing import overlaps_itself, share_memory, span, spans_meet
from .params import SHAPES, Tubelets
from .sampling import constant

DTYPES = (torch.uint8, torch.float16, torch.bfloat16, torch.float32)
BACKENDS = ("torch", "cpu", "cuda", "triton")


def composite(
    video: torch.Tensor,
    source: torch.Tensor,
    tubelets: Tubelets,
    *,
    backend: str = "auto",
    out: torch.Tensor | None = None,
    validate: bool = True,
    masks: torch.Tensor | None = None,
    source_alpha: bool = False,
) -> torch.Tensor:
    """``video`` with ``tubelets`` painted on, patches cut from ``source``.

    Args:
        video: ``(B, C, T, H, W)`` uint8, float16, bfloat16 or float32, any strides. Not
            modified unless it is ``out``.
        source: ``(B, C, Ts, Hs, Ws)``, same dtype and device; may be ``video`` itself.
        tubelets: ``B`` clips × ``M`` tubelets × ``T`` frames, on ``video``'s device.
        backend: ``"auto"`` or one of :data:`BACKENDS`.
        out: ``(B, C, T, H, W)`` tensor to write into, or ``video`` itself to paint it in
            place; may be ``source`` itself, but must share no other element with
            ``source`` or itself (a storage, or a NumPy array, it may share). ``None``: a
            new tensor with ``video``'s layout (:func:`tubelets.output_memory.empty_like`).
        validate: check the tubelets' values first (see the module docstring).
        masks: ``None``, or a contiguous ``(B, T, H, W)`` int8 tensor that receives the
            topmost tubelet's index on each pixel, ``-1`` where none (see :func:`paint_`).
        source_alpha: ``source`` has ``C + 1`` channels, the last an alpha channel that
            multiplies the coverage (a sprite bank, :func:`tubelets.sprites.sprite_source`).
    Returns:
        ``out``, or the new tensor.

    There are no gradients: with grad mode on, a ``video``, ``source``, ``out`` or tubelet
    parameter that requires grad is refused (see :func:`check_no_grad`).
    """
    check_tensor("video", video, "BCTHW")
    check_no_grad("video", video)
    if isinstance(source, torch.Tensor):
        check_no_grad("source", source)
    if out is None:
        out = output_memory.empty_like(video)
    elif not isinstance(out, torch.Tensor):
        raise TypeError(f"out must be a torch.Tensor or None, got {type(out).__name__}")
    elif out.shape != video.shape or out.dtype != video.dtype or out.device != video.device:
        raise ValueError(
            f"out: expected {tuple(video.shape)} {video.dtype} on {video.device}, "
            f"got {tuple(out.shape)} {out.dtype} on {out.device}"
        )
    else:
        check_no_grad("out", out)
    # Whether out is video (in place) is decided inside the op, where data pointers are real
    # (torch.compile cannot compare them here under fullgraph=True).
    paint_([out], [video], source, tubelets, backend=backend, validate=validate, masks=masks,
           source_alpha=source_alpha)
    return out


def paint_(
    outs: list[torch.Tensor],
    ins: list[torch.Tensor],
    source: torch.Tensor,
    tubelets: Tubelets,
    *,
    backend: str = "auto",
    validate: bool = True,
    masks: torch.Tensor | None = None,
    source_alpha: bool = False,
) -> None:
    """``outs[p]`` = ``ins[p]`` with ``tubelets`` painted on, all ``P`` copies (e.g. both
    clips of a positive pair) in one launch; ``ins=[]`` paints ``outs`` in place.

    Every tensor is ``(B, C, T, H, W)`` but ``source``, which may be an output itself and
    has ``C + 1`` channels with ``source_alpha`` (the last one an alpha channel, see
    :mod:`tubelets.reference`); no output may share another element with ``source``, nor
    any with the tubelet parameters, itself, another output or another copy's input.
    ``masks``: ``None``, or a contiguous ``(B, T, H, W)`` int8 tensor that receives the
    index of the topmost tubelet on each pixel, ``-1`` where none (with no ``outs``: only
    the masks are made).
    """
    if masks is None and not source_alpha:
        _check_videos(outs, ins, source, tubelets)
    else:
        _check_extras(outs, ins, source, tubelets, masks, source_alpha)
    name = resolve_backend(backend, source.device)
    torch.ops.tubelets.paint_(
        outs, ins, source,
        tubelets.inv_affine.float().contiguous(), tubelets.opacity.float().contiguous(),
        _int32(tubelets.src_box), _int32(tubelets.src_frame), _int32(tubelets.shape),
        tubelets.softness.float().contiguous(), masks, source_alpha, name, validate,
    )  # fmt: skip


MAX_MASKED_TUBELETS = 127
"""The most tubelets per clip that masks can tell apart: their ids are int8."""


def _check_extras(outs: list, ins: list, source: torch.Tensor, tubelets: Tubelets, masks: torch.Tensor | None,
                  source_alpha: bool) -> None:
    """:func:`_check_videos` for a call with masks or a source with an alpha channel."""
    if not isinstance(source_alpha, bool):
        raise TypeError(f"source_alpha must be a bool, got {type(source_alpha).__name__}")
    check_tensor("source", source, "BCTHW")
    if source_alpha and source.shape[1] < 2:
        raise ValueError(f"source_alpha: the source needs a colour channel and an alpha channel, "
                         f"got {source.shape[1]} channel(s)")
    colours = source[:, : source.shape[1] - int(source_alpha)]
    if outs:
        _check_videos(outs, ins, colours, tubelets)
    else:
        if ins:
            raise ValueError(f"give as many inputs as outputs, got {len(outs)} and {len(ins)}")
        _check_tubelet_types(tubelets)
    if masks is None:
        if not outs:
            raise ValueError("give outputs, masks or both")
        return
    if not isinstance(masks, torch.Tensor):
        raise TypeError(f"masks must be a torch.Tensor or None, got {type(masks).__name__}")
    batch, count, frames = tubelets.inv_affine.shape[:3]
    if masks.dim() != 4 or masks.dtype != torch.int8 or masks.device != source.device \
            or masks.shape[:2] != (batch, frames) or not masks.is_contiguous():
        raise ValueError(f"masks must be a contiguous ({batch}, {frames}, H, W) int8 tensor on {source.device}, "
                         f"got {tuple(masks.shape)} {masks.dtype} on {masks.device}")
    if outs and masks.shape[2:] != outs[0].shape[3:]:
        raise ValueError(f"masks must have the videos' frame size {tuple(outs[0].shape[3:])}, "
                         f"got {tuple(masks.shape[2:])}")
    if count > MAX_MASKED_TUBELETS:
        raise ValueError(f"masks tell at most {MAX_MASKED_TUBELETS} tubelets apart (int8), got {count}")
    if source.shape[0] != batch:
        raise ValueError(f"source must have one clip per tubelet clip ({batch}), got {source.shape[0]}")
    if tubelets.device != source.device:
        raise ValueError(f"tubelets are on {tubelets.device} but the source is on {source.device}; "
                         "use tubelets.to(source.device)")


def _int32(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` as contiguous int32, saturating: a wider integer beyond int32 (a crop at
    2**32 + 3, say) must fail the value checks, not wrap around to a valid index."""
    if tensor.dtype != torch.int32:
        info = torch.iinfo(tensor.dtype)
        tensor = tensor.clamp(max(info.min, -(2**31)), min(info.max, 2**31 - 1)).int()
    return tensor.contiguous()


def frame_copies(source: torch.Tensor, src_frame: torch.Tensor,
                 clips: tuple[int, ...] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Copies of the frames ``src_frame`` ``(B, M)`` cuts from, ``(B, C, M, Hs, Ws)``
    (tubelet ``m``'s at ``m``), and the frame indices into them: what a backend that reads
    the source as it paints needs when the source is one of its outputs. ``clips``: clip
    ``b``'s frames come from clip ``clips[b]`` of ``source`` (itself by default)."""
    batch, count, frames = source.shape[0], src_frame.shape[1], source.shape[2]
    origin = constant(clips if clips is not None else tuple(range(batch)), torch.int64, source.device)[:, None]
    # Clamped as the kernels clamp it; (B, M, C, H, W), viewed as (B, C, M, H, W).
    copies = source[origin, :, src_frame.long().clamp(0, frames - 1)].transpose(1, 2)
    return copies, constant((tuple(range(count)),) * batch, torch.int32, source.device).view(batch, count)


def resolve_backend(backend: str, device: torch.device) -> str:
    """The backend that ``backend`` names for tensors on ``device``; raises if unusable."""
    if backend == "auto":
        preference = ("triton", "cuda", "torch") if device.type == "cuda" else ("cpu", "torch")
        name = next(name for name in preference if unavailable(name, device) is None)
        if name == "torch":
            _warn_reference_fallback(device.type, tuple(unavailable(other, device) for other in preference[:-1]))
        return name
    check_backend_name(backend)
    reason = unavailable(backend, device)
    if reason is not None:
        raise RuntimeError(f"backend {backend!r} cannot run on {device.type} tensors: {reason}")
    return backend


@functools.cache
def _warn_reference_fallback(device_type: str, reasons: tuple) -> None:
    """Once per process and device type: ``auto`` paints with the reference, ~200× slower
    than a compiled backend, because none was built or loads."""
    warnings.warn(f"tubelets: backend 'auto' paints {device_type} tensors with the reference, about 200x "
                  f"slower than a compiled backend: {'; '.join(reasons)}. `tubelets info` shows what was "
                  "built and why not.", RuntimeWarning, stacklevel=4)


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


def _paint_op(
    outs: list[torch.Tensor],
    ins: list[torch.Tensor],
    source: torch.Tensor,
    inv_affine: torch.Tensor,
    opacity: torch.Tensor,
    src_box: torch.Tensor,
    src_frame: torch.Tensor,
    shape: torch.Tensor,
    softness: torch.Tensor,
    masks: torch.Tensor | None,
    source_alpha: bool,
    backend: str,
    validate: bool,
) -> None:
    if outs:
        canvas = outs[0]
    else:  # paint_ checked: outputs, masks or both
        assert masks is not None
        canvas = masks.unsqueeze(1)  # (B, 1, T, H, W): the sizes painted
    _check_parameter_shapes(canvas, inv_affine, opacity, src_box, src_frame, shape, softness)
    parameters = {"inv_affine": inv_affine, "opacity": opacity, "src_box": src_box, "src_frame": src_frame,
                  "shape": shape, "softness": softness}
    _check_memory(outs, ins, source, parameters)
    if masks is not None:
        _check_masks_memory(masks, [*outs, *ins, source, *parameters.values()])
    if ins and all(reference.same_elements(out, video) for out, video in zip(outs, ins)):
        ins = []  # every output is its own input: paint in place
    if canvas.numel() == 0:
        return
    # A host read cannot happen inside a CUDA graph capture; the kernels clamp every index.
    capturing = source.is_cuda and torch.cuda.is_current_stream_capturing()
    if validate and not capturing and inv_affine.shape[1] > 0:
        _check_parameter_values(source, inv_affine, opacity, src_box, src_frame, shape, softness)
    if backend not in READS_CROPS_FIRST and any(_is_source(out, source) for out in outs):
        source, src_frame = frame_copies(source, src_frame)
    extras = {} if masks is None and not source_alpha else {"masks": masks, "source_alpha": source_alpha}
    _implementation(backend)(outs, ins or outs, source, inv_affine, opacity, src_box, src_frame, shape, softness,
                             **extras)


def _is_source(out: torch.Tensor, source: torch.Tensor) -> bool:
    """Whether painting ``out`` paints ``source`` itself, element for element."""
    return out.shape == source.shape and reference.same_elements(out, source)


READS_CROPS_FIRST = ("cpu",)
"""The backends that read every crop before writing a pixel, so they may paint from an
output (csrc/composite_cpu.cpp); the others get copies of the source frames then."""


def _paint_fake(outs: list[torch.Tensor], ins: list[torch.Tensor], source: torch.Tensor, inv_affine: torch.Tensor,
                opacity: torch.Tensor, src_box: torch.Tensor, src_frame: torch.Tensor, shape: torch.Tensor,
                softness: torch.Tensor, masks: torch.Tensor | None, source_alpha: bool, backend: str,
                validate: bool) -> None:
    return None


library.define(
    "paint_(Tensor(a!)[] outs, Tensor[] ins, Tensor source, Tensor inv_affine, Tensor opacity, Tensor src_box, "
    "Tensor src_frame, Tensor shape, Tensor softness, Tensor(b!)? masks, bool source_alpha, str backend, "
    "bool validate) -> ()",
    _paint_op, _paint_fake,
)


def check_no_grad(name: str, tensor: torch.Tensor) -> None:
    """Raise if autograd would record through ``tensor``: the op has no derivative (a painted
    pixel does not depend on the video under it, and the bilinear samples of the source are
    not differentiated), so a gradient would be silently wrong."""
    if tensor.requires_grad and torch.is_grad_enabled():
        raise RuntimeError(f"{name} requires grad, but tubelets are painted without gradients; "
                           f"pass {name}.detach() or call under torch.no_grad()")


def check_tensor(name: str, tensor: object, *layouts: str) -> None:
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


def _check_videos(outs: list, ins: list, source: torch.Tensor, tubelets: Tubelets) -> None:
    """Shapes, dtypes and devices; no tensor values or data pointers are read. Every call
    runs this: the common case is one cheap test, and only a call it fails goes through
    the checks one by one, which raise with the argument's name."""
    if not _videos_fit(outs, ins, source, tubelets):
        _explain_videos(outs, ins, source, tubelets)


def _videos_fit(outs: list, ins: list, source: torch.Tensor, tubelets: Tubelets) -> bool:
    """Whether :func:`_explain_videos` would pass: true only if each of its checks holds."""
    if not (type(tubelets) is Tubelets and type(source) is torch.Tensor and outs and len(ins) in (0, len(outs))):
        return False
    shape, dtype, device = source.shape, source.dtype, source.device
    videos = (*outs, *ins)
    first = videos[0]
    if not (type(first) is torch.Tensor and len(shape) == 5 and first.dim() == 5 and dtype in DTYPES
            and first.shape[:2] == shape[:2] and (tubelets.batch_size, tubelets.num_frames) == first.shape[::2][:2]):
        return False
    size = first.shape
    fields = [getattr(tubelets, name) for name in FIELDS]
    if not all(type(video) is torch.Tensor and video.shape == size and video.dtype == dtype
               and video.device == device for video in videos):
        return False
    compiled = fields[:len(COMPILED_FIELDS)]
    if not all(type(field) is torch.Tensor and field.device == device and field.dtype in _FIELD_DTYPES[kind]
               for field, kind in zip(compiled, COMPILED_FIELDS.values())):
        return False
    if not all(type(field) is torch.Tensor or (field is None and name.endswith("keyframes"))
               for field, name in zip(fields, FIELDS)):
        return False
    return not (torch.is_grad_enabled() and any(tensor.requires_grad for tensor in (source, *videos, *compiled)))


def _explain_videos(outs: list, ins: list, source: torch.Tensor, tubelets: Tubelets) -> None:
    """The checks of :func:`_check_videos` one by one, each raising with its message."""
    check_tensor("source", source, "BCTHW")
    if not outs or (ins and len(ins) != len(outs)):
        raise ValueError(f"give one or more outputs and as many inputs (or none: in place), "
                         f"got {len(outs)} and {len(ins)}")
    first = (ins or outs)[0]
    check_tensor("video", first, "BCTHW")
    if source.dtype != first.dtype or source.device != first.device:
        raise ValueError(f"source must match video: {source.dtype} on {source.device} "
                         f"vs {first.dtype} on {first.device}")
    for name, videos in (("out", outs), ("video", ins)):
        for p, video in enumerate(videos):
            check_tensor(f"{name}[{p}]", video, "BCTHW")
            if (video.shape, video.dtype, video.device) != (first.shape, first.dtype, first.device):
                raise ValueError(f"{name}[{p}] must be {tuple(first.shape)} {first.dtype} on {first.device}, "
                                 f"got {tuple(video.shape)} {video.dtype} on {video.device}")
    batch, channels, frames = outs[0].shape[:3]
    if source.shape[:2] != (batch, channels):
        raise ValueError(f"source must have the video's batch size and channels {(batch, channels)}, "
                         f"got {tuple(source.shape[:2])}")
    _check_tubelet_types(tubelets)
    for name, tensor in [("source", source), *((f"out[{p}]", t) for p, t in enumerate(outs)),
                         *((f"video[{p}]", t) for p, t in enumerate(ins)),
                         *((f"tubelets.{name}", getattr(tubelets, name)) for name in COMPILED_FIELDS)]:
        check_no_grad(name, tensor)
    if tubelets.batch_size != batch or tubelets.num_frames != frames:
        raise ValueError(f"tubelets were sampled for {tubelets.batch_size} clips of {tubelets.num_frames} "
                         f"frames; the video has {batch} clips of {frames} frames")
    if tubelets.device != source.device:  # the device of inv_affine
        raise ValueError(f"tubelets are on {tubelets.device} but the video is on {source.device}; "
                         "use tubelets.to(video.device)")
    for name in ("opacity", "src_box", "src_frame", "shape", "softness"):
        # A tensor on another device (meta, say) would send the whole op to that device's kernel.
        if getattr(tubelets, name).device != source.device:
            raise ValueError(f"tubelets.{name} is on {getattr(tubelets, name).device}, the video on {source.device}")


FIELDS = tuple(field.name for field in dataclasses.fields(Tubelets))
COMPILED_FIELDS = {"inv_affine": "float", "opacity": "float", "src_box": "int", "src_frame": "int",
                   "shape": "int", "softness": "float"}
"""The fields the kernels read (the first of :data:`FIELDS`, in order), and whether they
hold real floats (converted to float32) or integers (to int32)."""
assert FIELDS[:len(COMPILED_FIELDS)] == tuple(COMPILED_FIELDS)
_FIELD_DTYPES = {"float": (torch.float32, torch.float64, torch.float16, torch.bfloat16),
                 "int": (torch.int32, torch.int64, torch.int16, torch.int8, torch.uint8)}
"""Common dtypes of each kind, for :func:`_videos_fit` (any other goes the long way)."""


def _check_tubelet_types(tubelets: object) -> None:
    """Every field a tensor (the keyframes may be ``None``), each compiled field of its kind."""
    if not isinstance(tubelets, Tubelets):
        raise TypeError(f"tubelets must be a Tubelets, got {type(tubelets).__name__}")
    for name in FIELDS:
        value = getattr(tubelets, name)
        if not isinstance(value, torch.Tensor) and not (value is None and name.endswith("keyframes")):
            raise TypeError(f"tubelets.{name} must be a torch.Tensor, got {type(value).__name__}")
    for name, kind in COMPILED_FIELDS.items():
        dtype = getattr(tubelets, name).dtype
        real = dtype.is_floating_point
        integer = not real and not dtype.is_complex and dtype != torch.bool
        if (kind == "float" and not real) or (kind == "int" and not integer):
            wanted = "a real floating-point (float32)" if kind == "float" else "an integer (int32)"
            raise TypeError(f"tubelets.{name} must be {wanted} tensor, got {dtype}")


def _check_memory(outs: list, ins: list, source: torch.Tensor, parameters: dict) -> None:
    """No output may share memory with the tubelet ``parameters`` (name → tensor), another
    output or another copy's input, nor overlap itself; ``outs[p]`` is ``ins[p]`` itself or
    shares nothing with it, and the same for the source. Exact for every layout (see
    :mod:`tubelets.aliasing`). Inside the op, before any write: data pointers are only real
    there under torch.compile. This runs on every call, so each tensor's span is measured
    once and the exact search runs only for spans that meet."""
    def shared(a: torch.Tensor, a_span: tuple[int, int], b: torch.Tensor, b_span: tuple[int, int]) -> bool:
        return spans_meet(a_span, b_span) and share_memory(a, b)

    if _apart(outs, ins, source, parameters):
        return
    source_span = span(source)
    out_spans, in_spans = [span(out) for out in outs], [span(video) for video in ins]
    others = list(zip([*outs, *ins], [*out_spans, *in_spans]))
    parameter_spans = [(name, parameter, span(parameter)) for name, parameter in parameters.items()]
    for p, (out, out_span) in enumerate(zip(outs, out_spans)):
        label = "out" if len(outs) == 1 else f"out[{p}]"  # one output: composite's out
        if not _is_source(out, source) and shared(out, out_span, source, source_span):
            raise ValueError(f"{label}, the video being painted, must be the source itself or share no "
                             "memory with it; paint a copy")
        if overlaps_itself(out):
            raise ValueError(f"{label} has elements that share memory (an expanded tensor?); give a dense one")
        for name, parameter, parameter_span in parameter_spans:
            if shared(out, out_span, parameter, parameter_span):
                raise ValueError(f"{label} must not share memory with tubelets.{name}")
        # Its own input may be itself (in place), but not partly: writing would change it before it is read.
        partly = ins and not reference.same_elements(out, ins[p]) and shared(out, out_span, ins[p], in_spans[p])
        if partly or any(shared(out, out_span, other, other_span)
                         for q, (other, other_span) in enumerate(others) if q not in (p, len(outs) + p)):
            raise ValueError(f"{label} must not overlap another output or another copy's input, "
                             "nor partly its own video")


def check_apart(outs: list[torch.Tensor], ins: list[torch.Tensor], tubelets: Tubelets) -> None:
    """The memory rules of :func:`paint_` for all the clips of one overlay call at once,
    ``ins[0]`` being the source: a call painted in several parts (``source="self"``) would
    otherwise find a bad second output only after writing the first."""
    _check_memory(outs, ins, ins[0], {name: getattr(tubelets, name) for name in COMPILED_FIELDS})


def _check_masks_memory(masks: torch.Tensor, others: list) -> None:
    """The masks (contiguous, so apart from themselves) share no memory with ``others``."""
    masks_span = span(masks)
    if any(spans_meet(masks_span, span(other)) and share_memory(masks, other) for other in others):
        raise ValueError("masks must not share memory with the videos, the source or the tubelets")


def _apart(outs: list, ins: list, source: torch.Tensor, parameters: dict) -> bool:
    """The common case, cheaply: contiguous outputs (which cannot overlap themselves) whose
    spans meet no other output's and no other tensor's, an input or source that is its
    output itself aside. The tensors only read may meet each other (the source is often
    the first input)."""
    if not all(out.is_contiguous() for out in outs):
        return False
    others = [video for video, out in zip(ins, outs) if not reference.same_elements(video, out)]
    if not any(_is_source(out, source) for out in outs):
        others.append(source)
    out_spans = [span(out) for out in outs]
    read_spans = [span(tensor) for tensor in (*others, *parameters.values())]
    return not any(spans_meet(out_span, other)
                   for p, out_span in enumerate(out_spans) for other in (*out_spans[p + 1:], *read_spans))


def _check_parameter_shapes(out: torch.Tensor, inv_affine: torch.Tensor, opacity: torch.Tensor, src_box: torch.Tensor,
                            src_frame: torch.Tensor, shape: torch.Tensor, softness: torch.Tensor) -> None:
    """The shapes and devices a kernel relies on to stay inside the parameter tensors."""
    batch, frames, count = out.shape[0], out.shape[2], inv_affine.shape[1]
    for name, value, size in (
        ("inv_affine", inv_affine, (batch, count, frames, 2, 3)), ("opacity", opacity, (batch, count, frames)),
        ("src_box", src_box, (batch, count, 4)), ("src_frame", src_frame, (batch, count)),
        ("shape", shape, (batch, count)), ("softness", softness, (batch, count)),
    ):
        if value.shape != size or value.device != out.device:
            raise ValueError(f"tubelets.{name} must have shape {size} on {out.device}, "
                             f"got {tuple(value.shape)} on {value.device}")


def value_checks(frames: int, height: int, width: int) -> tuple[str, ...]:
    """What replayed tubelets' values must satisfy to paint from a source of ``frames``
    frames of ``height × width`` pixels, one message per check, in the order in which both
    implementations report the first that fails (:func:`_failed_value_check`,
    ``csrc/value_checks.h``)."""
    return ("tubelets.inv_affine must be finite", "tubelets.opacity must lie in [0, 1]",
            "tubelets.softness must be finite and >= 0", f"tubelets.shape must index {SHAPES}",
            f"tubelets.src_frame must lie in [0, {frames}) for this source",
            f"tubelets.src_box must be non-empty crops inside the {width}×{height} source")  # fmt: skip


def _check_parameter_values(source: torch.Tensor, inv_affine: torch.Tensor, opacity: torch.Tensor, src_box: torch.Tensor,
                            src_frame: torch.Tensor, shape: torch.Tensor, softness: torch.Tensor) -> None:
    """Every value check at once: on CPU in one pass of the C++ backend (no tensor op),
    elsewhere in tensor ops read by the host in one go (one device sync)."""
    from . import native

    parameters = (inv_affine, opacity, src_box, src_frame, shape, softness)
    if source.device.type == "cpu" and native.checks_values(*parameters):
        failed = native.failed_value_check(source, *parameters)
    else:
        failed = _failed_value_check(source, *parameters)
    if failed is not None:
        raise ValueError(value_checks(*source.shape[2:])[failed])


def _failed_value_check(source: torch.Tensor, inv_affine: torch.Tensor, opacity: torch.Tensor, src_box: torch.Tensor,
                        src_frame: torch.Tensor, shape: torch.Tensor, softness: torch.Tensor) -> int | None:
    """The index in :func:`value_checks` of the first check that some value fails, None if
    all pass: tensor ops on the parameters' device, one host read (which check failed is
    read only then)."""
    frames, height, width = source.shape[2:]
    x0, y0, x1, y1 = src_box.unbind(-1)
    checks = (
        torch.isfinite(inv_affine), (opacity >= 0) & (opacity <= 1), torch.isfinite(softness) & (softness >= 0),
        (shape >= 0) & (shape < len(SHAPES)), (src_frame >= 0) & (src_frame < frames),
        (x0 >= 0) & (y0 >= 0) & (x0 <= x1) & (y0 <= y1) & (x1 < width) & (y1 < height),
    )  # fmt: skip
    passed = torch.stack([check.all() for check in checks])
    if passed.all():  # the one host read
        return None
    return passed.tolist().index(False)
