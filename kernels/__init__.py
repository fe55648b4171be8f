"""Triton kernels of :mod:`tubelets`, installed as ``tubelets.kernels``; Triton is optional.

:func:`paint_triton_` (``composite.py``) paints, :func:`sample_triton_` (``sampler.py``) samples.
``TRITON_UNAVAILABLE`` is ``None`` when they can run here, else the reason:
Triton is not importable, or there is no CUDA device and ``TRITON_INTERPRET`` is not set
(the interpreter runs the kernel on CPU tensors, slowly, for tests). Like Triton, this
reads ``TRITON_INTERPRET`` once, at import.
"""
from __future__ import annotations

import importlib

import torch


def _import_error() -> str | None:
    try:
        importlib.import_module("triton")
    except Exception as error:  # a broken install must not break ``import tubelets``
        return f"triton cannot be imported ({type(error).__name__}: {error})"
    return None


_IMPORT_ERROR = _import_error()
_INTERPRETING = _IMPORT_ERROR is None and bool(importlib.import_module("triton").knobs.runtime.interpret)
TRITON_UNAVAILABLE: str | None = _IMPORT_ERROR or (
    None if _INTERPRETING or torch.cuda.is_available()
    else "no CUDA device (set TRITON_INTERPRET=1 to run the Triton kernel on CPU tensors)"
)


def unavailable(device: torch.device) -> str | None:
    """Why the kernels cannot run on tensors on ``device``, or ``None`` if they can."""
    if _IMPORT_ERROR is not None:
        return _IMPORT_ERROR
    if device.type == "cuda" or (device.type == "cpu" and _INTERPRETING):
        return None
    hint = " (and CPU tensors under TRITON_INTERPRET=1)" if device.type == "cpu" else ""
    return f"it paints CUDA tensors{hint}"


if TRITON_UNAVAILABLE is None:
    from .composite import paint_ as paint_triton_
    from .sampler import sample_ as sample_triton_
else:

    def paint_triton_(*args) -> None:
        """Unavailable here: raises with :data:`TRITON_UNAVAILABLE`."""
        raise RuntimeError(f"the Triton backend is unavailable: {TRITON_UNAVAILABLE}")

    def sample_triton_(*args) -> None:
        """Unavailable here: raises with :data:`TRITON_UNAVAILABLE`."""
        raise RuntimeError(f"the Triton sampler is unavailable: {TRITON_UNAVAILABLE}")
