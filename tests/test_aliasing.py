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
    "out over source shifted a frame": (lambda v, s: (lambda b: (v, b[:, :, 1:], b[:, :, :-1]))(
        torch.rand(*SHAPE[:2], SHAPE[2] + 1, *SHAPE[3:])), "^out, the video being painted, must be the source itself or share no memory with it"),
    "out over source transposed": (lambda v, s: (lambda b: (v, b[..., :10, :], b.transpose(3, 4)[..., :10, :]))(
        torch.rand(*SHAPE[:3], 12, 12)), "must be the source itself or share no memory with it"),
    "expanded out": (lambda v, s: (v, s, torch.zeros(1, *SHAPE[1:]).expand(SHAPE)),
                     r"^out has elements that share memory"),
    "out broadcast over frames": (lambda v, s: (v, s, torch.zeros(*SHAPE[:2], 1, *SHAPE[3:]).expand(SHAPE)),
                                  r"^out has elements that share memory"),
    "numpy views overlapping source": (lambda v, s: (v, *numpy_views(0, 100)), "must be the source itself or share no memory with it"),
    "out one element into source": (lambda v, s: (v, *(lambda b: (b[1:].view(SHAPE), b[:-1].view(SHAPE)))(
        torch.rand(s.numel() + 1))), "must be the source itself or share no memory with it"),
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


SOURCE_ITSELF = {  # name: (video, source, out) with out the source itself, element for element
    "out is source": lambda v, s: (v, s, s),
    "in place on source": lambda v, s: (s, s, s),
    "views of source alike": lambda v, s: (v, s[:], s.view(SHAPE)),
    "strided source": lambda v, s: (lambda b: (v, b, b))(
        torch.rand(*SHAPE[:-1], 2 * SHAPE[-1]).mul(200).to(s.dtype)[..., ::2]),
}


@pytest.mark.parametrize("backend", cpu_backends())
@pytest.mark.parametrize("case", SOURCE_ITSELF)
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_out_may_be_the_source_itself(backend, case, dtype):
    """Every crop is read before any pixel is written: the result is that of painting a
    copy with patches cut from the source as it was."""
    video, source = (t.mul(200).to(dtype) for t in example()[:2])
    video, source, out = SOURCE_ITSELF[case](video, source.clone())
    tubes = example()[2]
    expected = composite(video.clone(), source.clone(), tubes, backend=backend)
    assert not torch.equal(expected, video)
    assert composite(video, source, tubes, out=out, backend=backend) is out
    assert torch.equal(out, expected)


@pytest.mark.parametrize("backend", cpu_backends())
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_both_clips_painted_in_place_from_the_first(backend, dtype):
    """The in-place overlay's call: v1 and v2 painted where they are, patches cut from v1."""
    from tubelets import ops

    v1, v2, tubes = (t.mul(200).to(dtype) if isinstance(t, torch.Tensor) else t for t in example())
    expected = [composite(v.clone(), v1.clone(), tubes, backend=backend) for v in (v1, v2)]
    ops.paint_([v1, v2], [], v1, tubes, backend=backend)
    assert torch.equal(v1, expected[0]) and torch.equal(v2, expected[1])


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
