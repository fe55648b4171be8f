"""New CPU outputs over memory that is reused once the caller has freed them.

A new CPU tensor of a clip's size is fresh memory from the OS, and each of its 4 KiB
pages faults on its first write: ~1–2 µs a page in the benchmark's VM, where the 294
pages of one 16×112×112 uint8 clip pair cost as much as painting it, and a B=32 pair of
outputs took 30 ms to fault in against 5 ms to fill reused memory. :func:`empty` and
:func:`empty_like` give the overlay's and :func:`tubelets.composite`'s new outputs over
blocks this module keeps instead: a block comes back when the last tensor on its memory
is freed (its storage holds the block, so no use count is guessed) and is handed out
again to the next output of its size, whose pages are already there.

What is kept: at most :data:`KEPT_BLOCKS` free blocks, all of the size last asked for
(two calls' outputs of the pair overlay); asking for another size releases the others.
:func:`release` hands every free block back to the OS. Blocks are private anonymous
mappings, so a forked ``DataLoader`` worker writes its own copies, and blocks of 2 MiB
and more ask for transparent huge pages before their first write. Outputs below
:data:`SMALLEST_BLOCK`, on other devices, under ``torch.compile`` (whose graphs allocate
their own), or where there are no private anonymous mappings (Windows) are plain
``torch.empty`` tensors. Like every tensor over borrowed memory (``torch.frombuffer``),
a pooled output's storage cannot be resized.
"""
from __future__ import annotations

import math
import mmap
import weakref

import torch

SMALLEST_BLOCK = 256 << 10
"""Bytes below which outputs are plain ``torch.empty`` tensors: glibc serves those from
memory it keeps, and a pooled output costs a few µs more to make."""

KEPT_BLOCKS = 4
"""Free blocks kept at most: the two outputs of a pair overlay call, for two calls."""

_HUGE_PAGE = 2 << 20
_POOLED = hasattr(mmap, "MAP_PRIVATE") and hasattr(mmap, "MAP_ANONYMOUS")
_free: dict[int, list[mmap.mmap]] = {}  # bytes -> free blocks of that size
_leases: dict[int, tuple[weakref.ref, mmap.mmap]] = {}  # id(lease) -> (lease, its block) while in use


def empty(shape: tuple[int, ...] | torch.Size, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A contiguous uninitialised tensor, like ``torch.empty(shape, dtype=dtype, device=device)``."""
    numel = math.prod(shape)
    if torch.compiler.is_compiling() or not _pooled(device, numel * dtype.itemsize):
        return torch.empty(shape, dtype=dtype, device=device)
    return _tensor_on(_take(numel * dtype.itemsize), dtype, numel).view(shape)


def empty_like(tensor: torch.Tensor) -> torch.Tensor:
    """An uninitialised tensor like ``torch.empty_like(tensor)``: its shape, dtype and
    device, and its strides where it is dense (otherwise contiguous)."""
    nbytes = tensor.numel() * tensor.dtype.itemsize
    if torch.compiler.is_compiling() or not _pooled(tensor.device, nbytes):
        return torch.empty_like(tensor)
    strides = torch.empty_like(tensor, device="meta").stride()
    return _tensor_on(_take(nbytes), tensor.dtype, tensor.numel()).as_strided(tensor.shape, strides)


def free_bytes() -> int:
    """Bytes of the free blocks kept now."""
    return sum(nbytes * len(blocks) for nbytes, blocks in list(_free.items()))


def release() -> None:
    """Hand every free block back to the OS now; blocks in use are unmapped when freed,
    until the next output is made."""
    _free.clear()


def _pooled(device: torch.device, nbytes: int) -> bool:
    return _POOLED and device.type == "cpu" and nbytes >= SMALLEST_BLOCK


def _take(nbytes: int) -> mmap.mmap:
    """A free block of ``nbytes``, or a new one; drops the free blocks of other sizes."""
    for size in list(_free):  # a copy made in one step: other threads may change the dict
        if size != nbytes:
            _free.pop(size, None)
    blocks = _free.setdefault(nbytes, [])  # from now on, blocks of this size given back are kept
    try:
        return blocks.pop()
    except IndexError:
        pass
    block = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    if nbytes >= _HUGE_PAGE and hasattr(mmap, "MADV_HUGEPAGE"):
        try:  # before the first write: the pages fault in 2 MiB at a time
            block.madvise(mmap.MADV_HUGEPAGE)
        except OSError:  # a kernel built without transparent huge pages: 4 KiB pages, as before
            pass
    return block


def _tensor_on(block: mmap.mmap, dtype: torch.dtype, numel: int) -> torch.Tensor:
    """A 1-D tensor over ``block`` that gives the block back when its storage is freed."""
    view = memoryview(block)  # the storage holds this view; freeing the storage frees it
    lease = weakref.ref(view, _give_back)  # a plain weak reference: weakref.finalize costs 2x
    _leases[id(lease)] = (lease, block)
    return torch.frombuffer(view, dtype=dtype, count=numel)


def _give_back(lease: weakref.ref) -> None:
    """Keep the block of a lease whose view no tensor holds any more, if it is of the
    size last asked for and fewer than KEPT_BLOCKS are free; otherwise it is unmapped as
    its last reference goes. Runs wherever the last tensor on it is freed, holding the
    GIL; every step is one atomic operation on a dict or list."""
    _, block = _leases.pop(id(lease))
    blocks = _free.get(len(block))
    if blocks is not None and len(blocks) < KEPT_BLOCKS:
        blocks.append(block)
