"""Count what one call dispatches: ops that run a kernel, and reads of tensor values by the host.

On a GPU each kernel-like op is a launch (microseconds of overhead each) and each host read
of a tensor value (``.item()``, ``bool(t)``, ``.tolist()``) is a sync that drains the
device's queue. Both are counted with :mod:`torch.profiler` on any device, so a CPU run
already shows what a GPU would pay:

>>> counts = count_dispatches(lambda: overlay(v1, v2))
>>> counts.kernels, counts.syncs
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Callable

from torch.profiler import ProfilerActivity, profile

# Ops that allocate, alias or return their input: no kernel of their own. When such an op
# does run kernels (``to`` that converts, ``contiguous`` that copies), its children count.
NO_KERNEL = frozenset({
    "aten::empty", "aten::empty_like", "aten::empty_strided", "aten::view", "aten::as_strided",
    "aten::select", "aten::slice", "aten::narrow", "aten::unsqueeze", "aten::squeeze",
    "aten::permute", "aten::expand", "aten::expand_as", "aten::split", "aten::split_with_sizes",
    "aten::unbind", "aten::transpose", "aten::t", "aten::alias", "aten::detach", "aten::reshape",
    "aten::_reshape_alias", "aten::unflatten", "aten::flatten", "aten::lift_fresh", "aten::to",
    "aten::contiguous", "aten::resolve_conj", "aten::resolve_neg", "aten::view_as",
    "aten::_unsafe_view", "aten::set_", "aten::result_type", "aten::unfold", "aten::item",
    "aten::_local_scalar_dense", "aten::is_nonzero",
})  # fmt: skip
# Ops that hand a tensor's value to the host: a device sync on a GPU.
HOST_READS = frozenset({"aten::_local_scalar_dense", "aten::is_nonzero", "aten::equal"})


@dataclasses.dataclass(frozen=True)
class DispatchCount:
    """What one call dispatched."""

    kernels: int  # top-level ops that run a kernel (custom ops count once)
    syncs: int  # reads of tensor values by the host (``bool(t)`` is one, not its inner item)
    ops: Counter  # the kernel-like ops by name, for error messages

    def __str__(self) -> str:
        listed = ", ".join(f"{name}×{count}" for name, count in self.ops.most_common())
        return f"{self.kernels} kernel-like ops, {self.syncs} host syncs ({listed})"


def count_dispatches(fn: Callable[[], object]) -> DispatchCount:
    """Run ``fn`` once under the profiler and count its kernel-like ops and host syncs."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    events = prof.events()
    ops: Counter = Counter()

    def visit(event) -> None:
        if event.name in NO_KERNEL:
            for child in event.cpu_children:
                visit(child)
        elif "::" in event.name:  # an aten op or a custom op; not a Python-level range
            ops[event.name] += 1

    for event in events:
        if event.cpu_parent is None:
            visit(event)
    syncs = sum(event.name in HOST_READS and not _inside_host_read(event) for event in events)
    return DispatchCount(kernels=sum(ops.values()), syncs=syncs, ops=ops)


def _inside_host_read(event) -> bool:
    parent = event.cpu_parent
    while parent is not None:
        if parent.name in HOST_READS:
            return True
        parent = parent.cpu_parent
    return False
