"""The compiled backends: ``tubelets._C`` (C++/OpenMP, CPU) and ``tubelets._cuda`` (CUDA).

Both are optional (see ``setup.py``). ``CPU_UNAVAILABLE`` and ``CUDA_UNAVAILABLE`` are
``None`` when the module loaded (for CUDA: and this machine's driver runs it, see
:mod:`tubelets.cuda_driver`), else the reason. A module that was built but does not
load warns once, at import; one that was simply not built (no ``nvcc``, say) stays quiet.

:func:`paint_cpu_` and :func:`paint_cuda_` have exactly the contract of
:func:`tubelets.reference.paint_` and compute the same float32 expressions in the same
order, so they match it bit for bit in every dtype (tests/test_native.py);
:func:`sample_cpu` is :func:`tubelets.sampling.sample_reference` in C++ (and
:func:`sample_triton` the same in Triton, registered here beside it). The modules do
not link libtorch: the wrappers pass data pointers, sizes and strides (in elements) as
integers, the parameter tensors contiguous (as :func:`tubelets.ops.paint_` hands them
over), and for CUDA the current stream of the source's device.
"""
from __future__ import annotations

import functools
import importlib
import warnings
from types import ModuleType

import torch

from . import library


def _load(name: str, not_built: str) -> tuple[ModuleType | None, str | None]:
    """``(module, None)``, or ``(None, why it is unavailable)``."""
    try:
        return importlib.import_module(name), None
    except ImportError as error:
        if isinstance(error, ModuleNotFoundError) and error.name == name:
            return None, not_built
        reason = f"{name} is installed but does not load: {error}"
        warnings.warn(f"tubelets: {reason}; falling back to the reference", RuntimeWarning, 2)
        return None, reason


_C, CPU_UNAVAILABLE = _load(
    "tubelets._C",
    "tubelets._C was not built: no C++ compiler at install time, or the build failed "
    "(`pip install -v` shows the build log)",
)
_cuda, CUDA_UNAVAILABLE = _load(
    "tubelets._cuda",
    "tubelets._cuda was not built: nvcc was not found at install time, "
    "TUBELETS_BUILD_CUDA=0 was set, or the build failed (`pip install -v` shows the build log)",
)
if _cuda is not None:  # it imports on any machine, but runs only on a driver for its CUDA
    from .cuda_driver import report

    CUDA_UNAVAILABLE = report(_cuda).problem

_PARAM_DTYPES = (torch.float32, torch.float32, torch.int32, torch.int32, torch.int32, torch.float32)


def _arguments(device_type, outs, ins, source, *params, masks=None, source_alpha=False):
    """The positional arguments shared by ``_C.paint`` and ``_cuda.paint``.

    The kernels read raw memory, so what would make them read the wrong memory is checked
    here even though :func:`tubelets.ops.paint_` validates first.
    """
    size = outs[0].shape if outs else _masks_size(source, masks, source_alpha)
    device, dtype = source.device, source.dtype
    if not (device.type == device_type and len(ins) == len(outs)
            and all(tensor.device == device and tensor.dtype == dtype and tensor.shape == size for tensor in (*outs, *ins))
            and all(tensor.dtype == wanted and tensor.device == device and tensor.is_contiguous()
                    for tensor, wanted in zip(params, _PARAM_DTYPES))
            and (masks is None or (masks.dtype == torch.int8 and masks.device == device and masks.is_contiguous()
                                   and masks.shape == size[:1] + size[2:]))):
        _explain_arguments(device_type, outs, ins, source, params, masks, size)
    return (
        str(dtype).removeprefix("torch."), size,
        [(out.data_ptr(), out.stride()) for out in outs], [(video.data_ptr(), video.stride()) for video in ins],
        source.data_ptr(), source.shape, source.stride(),
        params[0].shape[1], [tensor.data_ptr() for tensor in params],
        0 if masks is None else masks.data_ptr(), source_alpha,
    )  # fmt: skip


def _masks_size(source, masks, source_alpha) -> torch.Size:
    """``(B, C, T, H, W)`` of a call that paints only masks: the source's colour channels."""
    if masks is None:
        raise ValueError("give outputs, masks or both")
    batch, frames, height, width = masks.shape
    return torch.Size((batch, source.shape[1] - int(source_alpha), frames, height, width))


def _explain_arguments(device_type, outs, ins, source, params, masks, size) -> None:
    """The checks of :func:`_arguments` one by one, each raising with its message."""
    for tensor in (*outs, *ins, source):
        if tensor.device.type != device_type or tensor.device != source.device or tensor.dtype != source.dtype:
            raise ValueError(f"outputs, inputs and source must be {device_type} tensors of one dtype on one "
                             f"device, got {tensor.dtype} on {tensor.device} and {source.dtype} on {source.device}")
    if len(ins) != len(outs) or any(tensor.shape != size for tensor in (*outs, *ins)):
        raise ValueError("every output and input must have one shape")
    for tensor, dtype in zip(params, _PARAM_DTYPES):
        if tensor.dtype != dtype or not tensor.is_contiguous() or tensor.device != source.device:
            raise ValueError(
                f"tubelet parameters must be contiguous {dtype} on {source.device}, "
                f"got {tensor.dtype} (contiguous={tensor.is_contiguous()}) on {tensor.device}"
            )
    raise ValueError(f"masks must be contiguous {tuple(size[:1] + size[2:])} int8 on {source.device}, got "
                     f"{tuple(masks.shape)} {masks.dtype} (contiguous={masks.is_contiguous()}) on {masks.device}")


def paint_cpu_(
    outs: list[torch.Tensor],
    ins: list[torch.Tensor],
    source: torch.Tensor,
    inv_affine: torch.Tensor,
    opacity: torch.Tensor,
    src_box: torch.Tensor,
    src_frame: torch.Tensor,
    shape: torch.Tensor,
    softness: torch.Tensor,
    *,
    masks: torch.Tensor | None = None,
    source_alpha: bool = False,
) -> None:
    """:func:`tubelets.reference.paint_` in C++ on CPU tensors, on ``torch.get_num_threads()``
    OpenMP threads (so DataLoader workers, which set 1, do not oversubscribe)."""
    if _C is None:
        raise RuntimeError(f"the C++ CPU backend is unavailable: {CPU_UNAVAILABLE}")
    arguments = _arguments("cpu", outs, ins, source, inv_affine, opacity, src_box, src_frame, shape, softness,
                           masks=masks, source_alpha=source_alpha)
    _C.paint(*arguments, torch.get_num_threads())


def paint_cuda_(
    outs: list[torch.Tensor],
    ins: list[torch.Tensor],
    source: torch.Tensor,
    inv_affine: torch.Tensor,
    opacity: torch.Tensor,
    src_box: torch.Tensor,
    src_frame: torch.Tensor,
    shape: torch.Tensor,
    softness: torch.Tensor,
    *,
    masks: torch.Tensor | None = None,
    source_alpha: bool = False,
) -> None:
    """:func:`tubelets.reference.paint_` in CUDA, enqueued on the current stream of the
    source's device (asynchronous, like any CUDA op)."""
    if _cuda is None:
        raise RuntimeError(f"the CUDA backend is unavailable: {CUDA_UNAVAILABLE}")
    arguments = _arguments("cuda", outs, ins, source, inv_affine, opacity, src_box, src_frame, shape, softness,
                           masks=masks, source_alpha=source_alpha)
    device = source.device.index
    _cuda.paint(*arguments, device, torch.cuda.current_stream(device).cuda_stream)


_CHECKED_DTYPES = (torch.float32, torch.float32, torch.int32, torch.int32, torch.int32, torch.float32)


def checks_values(*parameters: torch.Tensor) -> bool:
    """Whether :func:`failed_value_check` takes these parameters (inv_affine … softness of
    ``tubelets::paint_``): the C++ backend is built and they are contiguous CPU tensors of
    the dtypes :func:`tubelets.ops.paint_` gives them."""
    return _C is not None and all(
        tensor.device.type == "cpu" and tensor.dtype == dtype and tensor.is_contiguous()
        for tensor, dtype in zip(parameters, _CHECKED_DTYPES)
    )


def failed_value_check(source, inv_affine, opacity, src_box, src_frame, shape, softness) -> int | None:
    """:func:`tubelets.ops._failed_value_check` in one C++ pass (``csrc/value_checks.h``),
    for parameters that :func:`checks_values` takes; no tensor op, no copy."""
    from .params import SHAPES

    assert _C is not None, "checks_values() takes no parameters without the C++ backend"
    batch, count, frames = inv_affine.shape[:3]
    failed = _C.failed_value_check(
        [tensor.data_ptr() for tensor in (inv_affine, opacity, src_box, src_frame, shape, softness)],
        batch * count, frames, *source.shape[2:], len(SHAPES),
    )
    return None if failed < 0 else failed


MOTION_CODES = {"static": 0, "linear": 1, "nonlinear": 2}
TRANSFORM_ORDER = ("rotation", "scale", "shear")


def sample_cpu(config, seed: torch.Tensor, batch: int, frames: int, height: int, width: int):
    """:func:`tubelets.sampling.sample_reference` in C++ (``csrc/sampler.h``): one op,
    ``tubelets::sample``, for the batch; ``seed`` is a 0-dim int64 CPU tensor, read by the
    C++ code (the host never reads it). Works under ``torch.compile``."""
    return _sample(torch.ops.tubelets.sample, config, seed, batch, frames, height, width)


def sample_triton(config, seed: torch.Tensor, batch: int, frames: int, height: int, width: int):
    """:func:`tubelets.sampling.sample_reference` in Triton (``kernels/sampler.py``): one op,
    ``tubelets::sample_triton``, one launch for the batch, on ``seed``'s device (CUDA, or
    CPU under ``TRITON_INTERPRET=1``); the host never reads ``seed``. Works under
    ``torch.compile``."""
    return _sample(torch.ops.tubelets.sample_triton, config, seed, batch, frames, height, width)


def _sample(op, config, seed, batch, frames, height, width):
    """:class:`tubelets.Tubelets` from one call of ``op`` (a sampler op of the schema below)."""
    from .params import Tubelets

    fields = op(seed, [batch, config.max_tubelets, frames, height, width], *_config_arguments(config))
    inv_affine, opacity, src_box, src_frame, shape, softness, centers, angles, scales, shears, motion, times = fields
    return Tubelets(
        inv_affine=inv_affine, opacity=opacity, src_box=src_box, src_frame=src_frame, shape=shape,
        softness=softness, centers=centers, angles=angles, scales=scales, shears=shears,
        motion_keyframes=motion if config.motion == "linear" else None, transform_keyframes=times,
    )


@functools.lru_cache(maxsize=64)
def _config_arguments(config) -> tuple:
    """The arguments of a sampler op that ``config`` decides (``motion`` … ``extras`` of
    ``_SAMPLE_SCHEMA``), once per config: configs are frozen. ``options`` are the fewest
    tubelets a clip paints, ``same_on_batch`` (0 or 1), the index of ``interpolation`` in
    :data:`~tubelets.config.INTERPOLATIONS`, ``opacity_keyframes``, ``nonlinear_square`` and
    whether ``rotation_step`` is set; ``extras`` are ``softness_p``, ``patch_jitter``,
    ``rotation_step`` (0 if unset), then :func:`~tubelets.sampling.patch_anchors`."""
    from .config import INTERPOLATIONS
    from .params import SHAPES
    from .sampling import patch_anchors

    ranges = [float(v) for pair in (
        config.patch_size, config.max_step, config.nonlinear_extent, config.scale_range,
        config.rotation_range, config.shear_range, config.opacity, config.softness) for v in pair]  # fmt: skip
    return (MOTION_CODES[config.motion], [name in config.transforms for name in TRANSFORM_ORDER], config.keyframes,
            config.nonlinear_points, float(config.nonlinear_sigma), [SHAPES.index(s) for s in config.shapes], ranges,
            float(config.p),
            [config.tubelet_counts[0], int(config.same_on_batch), INTERPOLATIONS.index(config.interpolation),
             int(config.opacity_keyframes), int(config.nonlinear_square), int(config.rotation_step is not None)],
            [config.softness_p, config.patch_jitter, config.rotation_step or 0.0, *patch_anchors(config)])


def _sample_outputs(sizes, motion, keyframes, device) -> list[torch.Tensor]:
    """Empty outputs of the sampler ops on ``device``, in :class:`tubelets.Tubelets` field order."""
    batch, count, frames = sizes[:3]
    keys = min(keyframes, frames)
    f32, i32, i64 = torch.float32, torch.int32, torch.int64
    empty = functools.partial(torch.empty, device=device)
    return [
        empty(batch, count, frames, 2, 3, dtype=f32), empty(batch, count, frames, dtype=f32),
        empty(batch, count, 4, dtype=i32), empty(batch, count, dtype=i32),
        empty(batch, count, dtype=i32), empty(batch, count, dtype=f32),
        empty(batch, count, frames, 2, dtype=f32), empty(batch, count, frames, dtype=f32),
        empty(batch, count, frames, 2, dtype=f32), empty(batch, count, frames, 2, dtype=f32),
        empty(batch, count, keys if motion == MOTION_CODES["linear"] else 0, dtype=i64),
        empty(batch, count, keys, dtype=i64),
    ]  # fmt: skip


def _sample_op(seed, sizes, motion, transforms, keyframes, points, sigma, shapes, ranges, p, options, extras):
    """``tubelets::sample`` on CPU tensors (arguments: ``_SAMPLE_SCHEMA``)."""
    from .trajectories import nonlinear_matrix

    if _C is None:
        raise RuntimeError(f"the C++ CPU backend is unavailable: {CPU_UNAVAILABLE}")
    if seed.shape != () or seed.dtype != torch.int64 or seed.device.type != "cpu":
        raise ValueError(f"seed must be a 0-dim int64 CPU tensor, got {seed.dtype} {tuple(seed.shape)} on {seed.device}")
    batch, count, frames, height, width = sizes
    outputs = _sample_outputs(sizes, motion, keyframes, seed.device)
    matrix = nonlinear_matrix(points, sigma, frames)
    _C.sample(
        seed.data_ptr(), batch, (count, frames, height, width), motion, transforms, keyframes, points, shapes,
        ranges, p, options, extras, matrix.data_ptr(), [tensor.data_ptr() for tensor in outputs], torch.get_num_threads(),
    )
    return outputs


def _sample_fake(seed, sizes, motion, transforms, keyframes, points, sigma, shapes, ranges, p, options, extras):
    return _sample_outputs(sizes, motion, keyframes, seed.device)


_SAMPLE_SCHEMA = (
    "(Tensor seed, SymInt[] sizes, SymInt motion, bool[] transforms, SymInt keyframes, SymInt points, "
    "float sigma, SymInt[] shapes, float[] ranges, float p, SymInt[] options, float[] extras) -> Tensor[]"
)
library.define("sample" + _SAMPLE_SCHEMA, _sample_op, _sample_fake)


def _sample_triton_op(seed, sizes, motion, transforms, keyframes, points, sigma, shapes, ranges, p, options, extras):
    """``tubelets::sample_triton`` on CUDA tensors, or CPU ones under ``TRITON_INTERPRET=1``
    (arguments: ``_SAMPLE_SCHEMA``)."""
    from .kernels import sample_triton_, unavailable
    from .sampling import constant
    from .trajectories import nonlinear_matrix

    reason = unavailable(seed.device)
    if reason is not None:
        raise RuntimeError(f"the Triton sampler is unavailable: {reason}")
    if seed.shape != () or seed.dtype != torch.int64:
        raise ValueError(f"seed must be a 0-dim int64 tensor, got {seed.dtype} {tuple(seed.shape)}")
    outputs = _sample_outputs(sizes, motion, keyframes, seed.device)
    # Both constants are cached per device, so a call inside a CUDA graph capture copies nothing.
    sample_triton_(
        outputs, seed, constant((*ranges, p, *extras), torch.float64, seed.device),
        nonlinear_matrix(points, sigma, sizes[2], seed.device), sizes, motion, transforms, keyframes, points, shapes,
        options,
    )  # fmt: skip
    return outputs


library.define("sample_triton" + _SAMPLE_SCHEMA, _sample_triton_op, _sample_fake)
