"""Aliasing and ``out=``: refused exactly when writing would change what is read, before any write.

``tubelets.aliasing`` is checked against a brute force over every element's bytes; the op's
refusals (and acceptances) are checked on the cases PyTorch's own in-place ops meet:
expanded outputs, views of one storage that do or do not overlap, and views of one NumPy
array in two storages.
"""
import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from helpers import brute_share, byte_addresses, cpu_backends
from tubelets import TubeletConfig, TubeletOverlay, composite, sample_tubelets
from tubelets.aliasing import overlaps_itself, share_memory

SHAPE = (2, 3, 4, 10, 12)


@st.composite
def views(draw, buffer: torch.Tensor):
    """A strided view of ``buffer`` (up to 4 dimensions, strides 0 to 7) inside it."""
    dims = draw(st.integers(1, 4))
    shape = [draw(st.integers(0, 4)) for _ in range(dims)]
    stride = [draw(st.integers(0, 7)) for _ in range(dims)]
    reach = sum((n - 1) * s for n, s in zip(shape, stride)) if all(shape) else 0
    offset = draw(st.integers(0, max(0, buffer.numel() - 1 - reach)))
    if reach + offset >= buffer.numel():
        shape = [0] * dims
    return buffer.as_strided(shape, stride, offset)


BUFFER = torch.zeros(64, dtype=torch.int16)


@given(views(BUFFER), views(BUFFER), st.booleans())
def test_share_memory_is_exact(a, b, reinterpret):
    """Against every byte of every element, also across element sizes (int16 vs uint8)."""
    if reinterpret and b.numel() > 0:
        b = BUFFER.view(torch.uint8).as_strided(b.shape, b.stride(), 2 * b.storage_offset() + 1)
    assert share_memory(a, b) == brute_share(a, b) == share_memory(b, a)


@given(views(BUFFER))
def test_overlaps_itself_is_exact(a):
    found = byte_addresses(a)
    assert overlaps_itself(a) == (len(set(found)) < len(found))


def example(dtype=torch.float32):
    generator = torch.Generator().manual_seed(0)
    video, source = (torch.rand(SHAPE, generator=generator).to(dtype) for _ in range(2))
    tubes = sample_tubelets(TubeletConfig(num_tubelets=3), 2, 4, 10, 12, seed=torch.tensor(2))
    return video, source, tubes


def numpy_views(first: int, second: int):
    """Two ``(B, C, T, H, W)`` tensors of two storages, over one NumPy array from element
    ``first`` and ``second``."""
    array = np.random.default_rng(0).random(3 * np.prod(SHAPE)).astype(np.float32)
    size = int(np.prod(SHAPE))
    return [torch.from_numpy(array[start:start + size].reshape(SHAPE)) for start in (first, second)]


REFUSED = {  # name: (video, source, out) from (video, source), and the error
    "out is source": (lambda v, s: (v, s, s), "^out, the video being painted, must not share memory with source"),
    "in place on source": (lambda v, s: (s, s, s), "must not share memory with source"),
    "expanded out": (lambda v, s: (v, s, torch.zeros(1, *SHAPE[1:]).expand(SHAPE)),
                     r"^out has elements that share memory"),
    "out broadcast over frames": (lambda v, s: (v, s, torch.zeros(*SHAPE[:2], 1, *SHAPE[3:]).expand(SHAPE)),
                                  r"^out has elements that share memory"),
    "numpy views overlapping source": (lambda v, s: (v, *numpy_views(0, 100)), "must not share memory with source"),
    "out one element into source": (lambda v, s: (v, *(lambda b: (b[1:].view(SHAPE), b[:-1].view(SHAPE)))(
        torch.rand(s.numel() + 1))), "must not share memory with source"),
    "out partly over video": (lambda v, s: (lambda b: (b[:-3].view(SHAPE), s, b[3:].view(SHAPE)))(
        torch.rand(s.numel() + 3)), r"^out must not overlap .* nor partly its own video"),
}


@pytest.mark.parametrize("backend", cpu_backends())
@pytest.mark.parametrize("case", REFUSED)
def test_aliased_out_is_refused_before_anything_is_written(backend, case):
    make, match = REFUSED[case]
    video, source, out = make(*example()[:2])
    tubes = example()[2]
    before = [t.clone() for t in (video, source, out)]
    with pytest.raises(ValueError, match=match):
        composite(video, source, tubes, out=out, backend=backend)
    for tensor, original in zip((video, source, out), before):
        assert torch.equal(tensor, original)


def interleaved():
    """``(source, out)``: alternate clips of one tensor, whose spans cross but elements do not."""
    both = torch.rand(SHAPE[0], 2, *SHAPE[1:])
    return both[:, 0], both[:, 1]


def interleaved_columns():
    both = torch.rand(*SHAPE[:-1], 2 * SHAPE[-1])
    return both[..., 0::2], both[..., 1::2]


ACCEPTED = {  # name: (source, out) sharing a storage or an array, no element
    "halves of one tensor": lambda: tuple(torch.rand(2, *SHAPE).unbind(0)),
    "interleaved clips": interleaved,
    "interleaved columns": interleaved_columns,
    "numpy views side by side": lambda: tuple(numpy_views(0, int(np.prod(SHAPE)))),
}


@pytest.mark.parametrize("backend", cpu_backends())
@pytest.mark.parametrize("case", ACCEPTED)
def test_out_sharing_a_storage_but_no_element_with_source_is_painted(backend, case):
    """The result equals that of independent copies; the source is left alone."""
    video, _, tubes = example()
    source, out = ACCEPTED[case]()
    expected = composite(video, source.clone(), tubes, backend=backend)
    before = source.clone()
    composite(video, source, tubes, out=out, backend=backend)
    assert torch.equal(out, expected) and torch.equal(source, before) and not torch.equal(expected, video)


@pytest.mark.parametrize("backend", cpu_backends())
@pytest.mark.parametrize("name", ["inv_affine", "opacity", "softness"])
def test_out_over_the_tubelet_parameters_is_refused(backend, name):
    """A float32 out viewed over the parameters' memory would rewrite them while they are read."""
    video, source, tubes = example()
    parameter = getattr(tubes, name)
    buffer = torch.empty(video.numel() + parameter.numel())
    parameter = buffer[:parameter.numel()].view(parameter.shape).copy_(parameter)
    tubes = type(tubes)(**{**vars(tubes), name: parameter})
    out = buffer[:video.numel()].view(SHAPE)
    with pytest.raises(ValueError, match=f"^out must not share memory with tubelets.{name}"):
        composite(video, source, tubes, out=out, backend=backend)


def test_q_and_k_are_independent_tensors():
    """Each clip of a pair has a storage of its own, just large enough for it."""
    v1, v2, _ = example(torch.uint8)
    q, k = TubeletOverlay()(v1, v2)
    for clip in (q, k):
        assert clip.untyped_storage().nbytes() == clip.numel() * clip.element_size()
    assert q.untyped_storage().data_ptr() != k.untyped_storage().data_ptr() and not share_memory(q, k)


REFUSALS = {  # name: how to spoil valid (video, source, tubelets) arguments
    "opacity above 1": lambda v, s, t: (v, s, dataclasses.replace(t, opacity=t.opacity + 1)),
    "crop outside the source": lambda v, s, t: (v, s, dataclasses.replace(t, src_box=t.src_box + 100)),
    "non-finite map": lambda v, s, t: (v, s, dataclasses.replace(t, inv_affine=t.inv_affine / 0)),
    "source requiring grad": lambda v, s, t: (v, s.requires_grad_(), t),
    "tubelets of another batch": lambda v, s, t: (v[:1], s[:1], t),
}


@pytest.mark.parametrize("backend", cpu_backends())
@pytest.mark.parametrize("case", REFUSALS)
def test_every_refusal_comes_before_the_first_write_to_out(backend, case):
    video, source, tubes = REFUSALS[case](*example())
    out = torch.full(video.shape, 7.0)
    with pytest.raises((ValueError, RuntimeError)):
        composite(video, source, tubes, out=out, backend=backend)
    assert (out == 7.0).all()
