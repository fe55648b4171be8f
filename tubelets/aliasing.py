"""Which strided tensors share memory: exactly, by address arithmetic, without reading data.

A tensor's element at index ``i`` starts at byte ``data_ptr + Σ i_k · stride_k · itemsize``.
Two tensors share memory when an element of one and an element of the other have a byte in
common; a tensor overlaps itself when two of its indices start at one address (an
``expand``-ed tensor, say). Both questions are whether a sum ``Σ d_k · s_k`` of strides
``s_k`` with bounded integer digits ``d_k`` can land in an interval. PyTorch answers them
for dense tensors of one storage only (``at::get_overlap_status``) and lets others through;
here every layout gets an answer, and tensors of different storages are compared by address
(two ``torch.from_numpy`` views of one array share no storage but do share memory).

The digits are searched largest stride first, keeping only those from which the remaining
strides can still reach the interval: for sliced and permuted views of one buffer that
leaves one or two candidates per dimension. Should a contrived layout need more than
:data:`BUDGET` steps, the answer is "shared", which refuses a call rather than corrupt data.
"""
from __future__ import annotations

import torch

BUDGET = 10_000
"""Search steps before a search gives up and answers "shared"."""


def share_memory(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether some byte belongs to an element of ``a`` and to an element of ``b``."""
    a_span, b_span = span(a), span(b)
    if not spans_meet(a_span, b_span):
        return False
    # Elements [x, x + ea) and [y, y + eb) share a byte iff -ea < x - y < eb, with
    # x - y = (first byte of a - first byte of b) + Σ i·stride_a - Σ j·stride_b (in bytes).
    # Dimensions of equal byte strides merge: their digits add up.
    digits: dict[int, tuple[int, int]] = {}
    for tensor, sign in ((a, 1), (b, -1)):
        for size, stride in zip(tensor.shape, tensor.stride()):
            if size > 1 and stride != 0:
                low, high = digits.get(stride * tensor.element_size(), (0, 0))
                reach = sign * (size - 1)
                digits[stride * tensor.element_size()] = (low + min(0, reach), high + max(0, reach))
    offset = a_span[0] - b_span[0]
    dims = [(stride, low, high) for stride, (low, high) in digits.items()]
    return _reachable(dims, -a.element_size() + 1 - offset, b.element_size() - 1 - offset, nonzero=False)


def overlaps_itself(tensor: torch.Tensor) -> bool:
    """Whether two indices of ``tensor`` start at the same address."""
    if tensor.numel() == 0 or tensor.is_contiguous():
        return False
    dims = sorted((stride, size) for size, stride in zip(tensor.shape, tensor.stride()) if size > 1)
    reach = 0  # Fast path, true of every dense or sliced layout: each stride steps past
    for stride, size in dims:  # all that the smaller ones reach, so no two indices meet.
        if stride <= reach:
            break
        reach += (size - 1) * stride
    else:
        return False
    strides = [stride for stride, _ in dims]
    if 0 in strides or len(set(strides)) < len(strides):
        return True
    return _reachable([(stride, 1 - size, size - 1) for stride, size in dims], 0, 0, nonzero=True)


def span(tensor: torch.Tensor) -> tuple[int, int]:
    """``[first, end)`` bytes of ``tensor``'s elements; empty for an empty tensor."""
    count = tensor.numel()
    if count == 0:
        return 0, 0
    if tensor.is_contiguous():
        return tensor.data_ptr(), tensor.data_ptr() + count * tensor.element_size()
    last = sum((size - 1) * stride for size, stride in zip(tensor.shape, tensor.stride()))
    return tensor.data_ptr(), tensor.data_ptr() + (last + 1) * tensor.element_size()


def spans_meet(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Whether spans ``[first, end)`` intersect: necessary for sharing memory, and cheap."""
    return a[0] < b[1] and b[0] < a[1]


def _reachable(dims: list[tuple[int, int, int]], low: int, high: int, *, nonzero: bool) -> bool:
    """Whether integers ``d_k`` in ``[lo_k, hi_k]`` give ``low <= Σ d_k · s_k <= high`` for
    ``dims`` = ``(s_k > 0, lo_k, hi_k)``, with some ``d_k != 0`` if ``nonzero``."""
    dims = sorted(dims, reverse=True)
    # rest[k]: the least and most that dimensions k, k+1, … can add.
    rest = [(0, 0)] * (len(dims) + 1)
    for k in range(len(dims) - 1, -1, -1):
        stride, lo, hi = dims[k]
        rest[k] = (rest[k + 1][0] + lo * stride, rest[k + 1][1] + hi * stride)
    steps = 0
    stack = [(0, low, high, False)]
    while stack:
        k, low_k, high_k, moved = stack.pop()
        if k == len(dims):
            if low_k <= 0 <= high_k and (moved or not nonzero):
                return True
            continue
        stride, lo, hi = dims[k]
        least, most = rest[k + 1]
        first = max(lo, -((most - low_k) // stride))  # ceil((low_k - most) / stride)
        last = min(hi, (high_k - least) // stride)
        steps += max(0, last - first + 1)
        if steps > BUDGET:
            return True
        for digit in range(first, last + 1):
            stack.append((k + 1, low_k - digit * stride, high_k - digit * stride, moved or digit != 0))
    return False
