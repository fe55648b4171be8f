"""Teach ``torch.utils.data.default_collate`` to batch :class:`Tubelets`.

Importing :mod:`tubelets` imports this module, which registers :meth:`Tubelets.collate` in
torch's ``default_collate_fn_map``. From then on a ``Dataset`` whose samples hold per-clip
tubelets, such as ``(video, tubes)`` or ``{"video": v, "tubelets": t}``, collates as usual:
``B`` samples of ``(1, M, T, ...)`` tubelets become one ``(B, M, T, ...)`` :class:`Tubelets`.
DataLoader workers that fork inherit the registration; spawned workers get it when they
import the dataset's module, which imports :mod:`tubelets`.

The map is private to torch (``torch.utils.data._utils.collate``, present in torch 2.x); if
a torch lacks it nothing is registered, :data:`REGISTERED` is ``False``, and a
``DataLoader(..., collate_fn=...)`` must call :meth:`Tubelets.collate` itself.
"""
from __future__ import annotations

from .params import Tubelets


def register() -> bool:
    """Register :meth:`Tubelets.collate` with ``default_collate``; ``False`` if torch has no
    ``default_collate_fn_map`` to register it in."""
    try:
        from torch.utils.data._utils.collate import default_collate_fn_map
    except ImportError:
        return False
    default_collate_fn_map[Tubelets] = Tubelets.collate
    return True


REGISTERED = register()
"""Whether ``torch.utils.data.default_collate`` batches :class:`Tubelets`."""
