"""The compiled backends: ``tubelets._C`` (C++/OpenMP, CPU) and ``tubelets._cuda`` (CUDA).

Both are optional (see ``setup.py``). ``CPU_UNAVAILABLE`` and ``CUDA_UNAVAILABLE`` are
``None`` when the module loaded (for CUDA: and this machine's driver runs it, see
:mod:`tubelets.cuda_driver`), else the reason. A module that was built but does not
load warns once, at import; one that was simply not built (no ``nvcc``, say) stays quiet.

:func:`paint_cpu_` and :func:`paint_cuda_` have exactly the contract of
:func:`tubelets.reference.paint_` and compute the same float32 expressions in the same
order, so they match it bit for bit in every dtype (tests/test_native.py). The modules do
not link libtorch: the wrappers pass data pointers, sizes and strides (in elements) as
integers, the parameter tensors contiguous (as :func:`tubelets.ops.paint_` hands them
over), and for CUDA the current stream of the canvas's device.
"""
from __future__ import annotations

import importlib
import warnings
from types import ModuleType

import torch


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

_PARAM_DTYPES = (
    torch.float32, torch.float32, torch.int32, torch.int32, torch.int32, torch.int32, torch.float32
)  # fmt: skip


def _arguments(device_type, canvas, source, *params):
    """The positional arguments shared by ``_C.paint`` and ``_cuda.paint``.

    The kernels read raw memory, so what would make them read the wrong memory is checked
    here even though :func:`tubelets.ops.paint_` validates first.
    """
    if canvas.device.type != device_type or source.device != canvas.device:
        raise ValueError(f"canvas and source must be {device_type} tensors on one device, "
                         f"got {canvas.device} and {source.device}")
    if source.dtype != canvas.dtype:
        raise ValueError(f"source must be {canvas.dtype}, got {source.dtype}")
    for tensor, dtype in zip(params, _PARAM_DTYPES):
        if tensor.dtype != dtype or not tensor.is_contiguous() or tensor.device != canvas.device:
            raise ValueError(
                f"tubelet parameters must be contiguous {dtype} on {canvas.device}, "
                f"got {tensor.dtype} (contiguous={tensor.is_contiguous()}) on {tensor.device}"
            )
    return (
        str(canvas.dtype).removeprefix("torch."),
        canvas.data_ptr(), canvas.shape, canvas.stride(),
        source.data_ptr(), source.shape, source.stride(),
        params[0].shape[1], [tensor.data_ptr() for tensor in params],
    )  # fmt: skip


def paint_cpu_(
    canvas: torch.Tensor,
    source: torch.Tensor,
    inv_affine: torch.Tensor,
    opacity: torch.Tensor,
    boxes: torch.Tensor,
    src_box: torch.Tensor,
    src_frame: torch.Tensor,
    shape: torch.Tensor,
    softness: torch.Tensor,
) -> None:
    """:func:`tubelets.reference.paint_` in C++ on CPU tensors, on ``torch.get_num_threads()``
    OpenMP threads (so DataLoader workers, which set 1, do not oversubscribe)."""
    if _C is None:
        raise RuntimeError(f"the C++ CPU backend is unavailable: {CPU_UNAVAILABLE}")
    if canvas.numel() == 0 or inv_affine.shape[1] == 0:
        return
    arguments = _arguments(
        "cpu", canvas, source, inv_affine, opacity, boxes, src_box, src_frame, shape, softness
    )
    _C.paint(*arguments, torch.get_num_threads())


def paint_cuda_(
    canvas: torch.Tensor,
    source: torch.Tensor,
    inv_affine: torch.Tensor,
    opacity: torch.Tensor,
    boxes: torch.Tensor,
    src_box: torch.Tensor,
    src_frame: torch.Tensor,
    shape: torch.Tensor,
    softness: torch.Tensor,
) -> None:
    """:func:`tubelets.reference.paint_` in CUDA, enqueued on the current stream of the
    canvas's device (asynchronous, like any CUDA op)."""
    if _cuda is None:
        raise RuntimeError(f"the CUDA backend is unavailable: {CUDA_UNAVAILABLE}")
    if canvas.numel() == 0 or inv_affine.shape[1] == 0:
        return
    arguments = _arguments(
        "cuda", canvas, source, inv_affine, opacity, boxes, src_box, src_frame, shape, softness
    )
    device = canvas.device.index
    _cuda.paint(*arguments, device, torch.cuda.current_stream(device).cuda_stream)
