"""The ``tubelets`` operator namespace, registered with torch's dispatcher directly.

Each op is a schema, one Python implementation for CPU and CUDA tensors, and a fake one
that only makes the outputs' shapes (for ``torch.compile`` and ``FakeTensor``). Defined
through :class:`torch.library.Library`, an eager call costs ~5 µs; through
:func:`torch.library.custom_op` it cost ~100 µs of argument handling and autograd
wrapping, which at one clip pair per call (a ``DataLoader`` worker) was a fifth of the call.
No op has a derivative: callers refuse inputs that require grad.
"""
from __future__ import annotations

from typing import Callable

import torch

LIBRARY = torch.library.Library("tubelets", "DEF")


def define(schema: str, implementation: Callable, fake: Callable) -> None:
    """Define ``tubelets::NAME`` from ``schema`` (``"NAME(arguments) -> returns"``):
    ``implementation`` runs on CPU and CUDA tensors, ``fake`` on fake ones."""
    name = schema.split("(", 1)[0]
    LIBRARY.define(schema)
    for key in ("CPU", "CUDA"):
        LIBRARY.impl(name, implementation, key)
    torch.library.register_fake(f"tubelets::{name}", fake, lib=LIBRARY)
