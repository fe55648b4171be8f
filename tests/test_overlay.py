"""`TubeletOverlay`: the user-facing contract on real clips and random batches."""
import pytest
import torch

from helpers import cpu_backends
from tubelets import TubeletConfig, TubeletOverlay, sample_tubelets
from tubelets.video import bundled_clip, read_clip

DTYPES = [torch.uint8, torch.float16, torch.bfloat16, torch.float32]


def random_clips(batch=3, channels=3, frames=8, height=40, width=52, dtype=torch.uint8, seed=0):
    generator = torch.Generator().manual_seed(seed)
    shape = (batch, channels, frames, height, width)
    clips = [torch.randint(0, 256, shape, generator=generator).to(dtype) for _ in range(2)]
    if dtype.is_floating_point:
        clips = [c / 255 for c in clips]
    return clips


@pytest.fixture(scope="module")
def real_pair():
    """``(2, 3, 16, 112, 112)`` uint8 clips from two different real videos."""
    v1 = torch.stack([read_clip(bundled_clip("bikes.mp4"), start=s) for s in (0, 40)])
    v2 = torch.stack([read_clip(bundled_clip("bigbuckbunny.mp4"), start=s) for s in (0, 40)])
    return v1, v2


def test_positive_pair_from_real_clips_shares_only_the_tubelets(real_pair):
    v1, v2 = real_pair
    torch.manual_seed(0)
    q, k, tubes = TubeletOverlay()(v1, v2, return_tubelets=True)
    painted = (q != v1).any(1) | (k != v2).any(1)  # (B, T, H, W)
    assert 0.01 < painted.float().mean() < 0.5
    assert torch.equal(q.permute(0, 2, 3, 4, 1)[painted], k.permute(0, 2, 3, 4, 1)[painted])
    assert tubes.inv_affine.shape == (2, 2, 16, 2, 3)


@pytest.mark.parametrize("backend", cpu_backends())
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("data_format", ["BCTHW", "BTCHW"])
def test_every_layout_and_dtype_gives_the_same_pixels(backend, dtype, data_format):
    v1, v2 = random_clips(dtype=dtype)
    overlay = TubeletOverlay(backend=backend)
    tubes = sample_tubelets(overlay.config, 3, 8, 40, 52, generator=torch.Generator().manual_seed(1))
    q, k = overlay(v1, v2, tubelets=tubes)
    layout = TubeletOverlay(data_format=data_format, backend=backend)
    convert = (lambda x: x.transpose(1, 2)) if data_format == "BTCHW" else (lambda x: x)
    q2, k2 = layout(convert(v1), convert(v2), tubelets=tubes)
    assert q2.dtype == dtype and q2.shape == convert(v1).shape
    assert torch.equal(convert(q2), q) and torch.equal(convert(k2), k)
    assert not torch.equal(q, v1)


@pytest.mark.parametrize("data_format", ["BCTHW", "BTCHW"])
def test_unbatched_clip_in_a_dataloader_worker_matches_the_batch(data_format):
    v1, v2 = random_clips(batch=1, dtype=torch.float32)
    convert = (lambda x: x.transpose(1, 2)) if data_format == "BTCHW" else (lambda x: x)
    overlay = TubeletOverlay(data_format=data_format)
    tubes = sample_tubelets(overlay.config, 1, 8, 40, 52)
    q, k = overlay(convert(v1)[0], convert(v2)[0], tubelets=tubes)
    qb, kb = overlay(convert(v1), convert(v2), tubelets=tubes)
    assert q.shape == convert(v1)[0].shape
    assert torch.equal(q, qb[0]) and torch.equal(k, kb[0])


def test_single_clip_cuts_patches_from_itself():
    (x, _), tubes = random_clips(batch=2), None
    overlay = TubeletOverlay(num_tubelets=3)
    out, tubes = overlay(x, generator=torch.Generator().manual_seed(3), return_tubelets=True)
    pair, _ = overlay(x, torch.zeros_like(x), tubelets=tubes)
    assert torch.equal(out, pair)


def test_inputs_are_never_modified():
    v1, v2 = random_clips()
    before = (v1.clone(), v2.clone())
    TubeletOverlay()(v1, v2)
    TubeletOverlay()(v1)
    assert torch.equal(v1, before[0]) and torch.equal(v2, before[1])


def test_same_seed_same_output_and_each_clip_gets_its_own_tubelets():
    v1, v2 = random_clips(batch=4)
    overlay = TubeletOverlay(motion="linear", transforms=("scale", "rotation", "shear"))
    torch.manual_seed(7)
    first = overlay(v1, v2)
    torch.manual_seed(7)
    second = overlay(v1, v2)
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(overlay(v1, generator=g1), overlay(v1, generator=g2))
    tubes = sample_tubelets(overlay.config, 4, 8, 40, 52, generator=torch.Generator().manual_seed(0))
    assert len({tuple(c.flatten().tolist()) for c in tubes.centers}) == 4


def test_replay_reproduces_the_same_tubelets():
    v1, v2 = random_clips()
    overlay = TubeletOverlay(transforms=("rotation", "shear"))
    q, k, tubes = overlay(v1, v2, return_tubelets=True)
    q2, k2 = overlay(v1, v2, tubelets=tubes)
    assert torch.equal(q, q2) and torch.equal(k, k2)


@pytest.mark.parametrize("frames, height, width", [(1, 112, 112), (5, 7, 9), (3, 1, 1), (2, 17, 3)])
def test_odd_sizes_single_frames_and_tiny_frames(frames, height, width):
    v1, v2 = random_clips(batch=2, frames=frames, height=height, width=width)
    q, k = TubeletOverlay(motion="linear", transforms=("scale",))(v1, v2)
    assert q.shape == v1.shape and k.dtype == v2.dtype


def test_empty_batch_returns_empty_outputs():
    v1, v2 = random_clips(batch=0)
    q, k = TubeletOverlay()(v1, v2)
    assert q.shape == v1.shape and k.shape == v2.shape


def test_defaults_are_the_papers_configuration():
    config = TubeletOverlay().config
    assert config == TubeletConfig.paper()
    assert (config.num_tubelets, config.motion, config.transforms) == (2, "nonlinear", ("rotation",))
    assert config.patch_size == (16 / 112, 64 / 112) and config.keyframes == 3
    assert (config.nonlinear_points, config.nonlinear_sigma) == (48, 8.0)
    assert (config.scale_range, config.rotation_range, config.shear_range) == ((0.5, 1.5), (-90.0, 90.0), (-1.0, 1.0))


def test_sampled_patches_follow_the_paper_sizes_and_paint_largest_first():
    tubes = sample_tubelets(TubeletConfig(num_tubelets=3), 500, 16, 112, 112)
    size = tubes.patch_size
    assert size.min() >= 16 and size.max() <= 64
    area = size.prod(-1)
    assert (area[:, :-1] >= area[:, 1:]).all()
    assert set(tubes.shape.unique().tolist()) == {0, 1, 2}


@pytest.mark.parametrize("backend", cpu_backends())
@pytest.mark.parametrize("dtype", [torch.uint8, torch.bfloat16, torch.float32], ids=str)
@pytest.mark.parametrize("data_format", ["BCTHW", "BTCHW"])
@pytest.mark.parametrize("batched", [True, False], ids=["batch", "clip"])
def test_inplace_paints_the_clips_themselves_with_the_same_pixels(backend, dtype, data_format, batched):
    """inplace=True returns v1 and v2 themselves, holding what the default returns: patches
    are cut from v1 as it was, although v1 is painted (its own source frames included)."""
    generator = torch.Generator().manual_seed(7)
    shape = (2, 3, 6, 23, 29) if data_format == "BCTHW" else (2, 6, 3, 23, 29)
    v1, v2 = ((torch.rand(shape, generator=generator) * 255).to(dtype) for _ in range(2))
    if not batched:
        v1, v2 = v1[0], v2[0]
    config = TubeletConfig(num_tubelets=3, patch_size=(0.5, 1.0))
    expected = TubeletOverlay(config, data_format=data_format, backend=backend)(
        v1, v2, generator=torch.Generator().manual_seed(3))
    a, b = v1.clone(), v2.clone()
    q, k = TubeletOverlay(config, data_format=data_format, backend=backend, inplace=True)(
        a, b, generator=torch.Generator().manual_seed(3))
    assert q is a and k is b
    assert not torch.equal(a, v1) and not torch.equal(b, v2)
    assert torch.equal(a, expected[0]) and torch.equal(b, expected[1])


def test_inplace_single_clip_and_strided_clips():
    generator = torch.Generator().manual_seed(8)
    clip = torch.randint(0, 256, (2, 3, 5, 30, 34), dtype=torch.uint8, generator=generator)
    strided = clip.clone(memory_format=torch.channels_last_3d)
    expected = TubeletOverlay()(clip, generator=torch.Generator().manual_seed(1))
    assert TubeletOverlay(inplace=True)(strided, generator=torch.Generator().manual_seed(1)) is strided
    assert torch.equal(strided, expected)


def test_inplace_refuses_before_writing_anything():
    """Replayed tubelets with a bad value, the same tensor as both clips, an expanded clip:
    each refused with the reason, and the clips left as they were."""
    overlay = TubeletOverlay(inplace=True)
    v1 = torch.randint(0, 256, (2, 3, 4, 20, 24), dtype=torch.uint8)
    v2 = torch.randint(0, 256, (2, 3, 4, 20, 24), dtype=torch.uint8)
    before = v1.clone(), v2.clone()
    _, _, tubes = TubeletOverlay()(v1, v2, return_tubelets=True)
    bad = tubes.to(v1.device)
    bad.src_frame[0, 0] = 9
    with pytest.raises(ValueError, match="tubelets.src_frame must lie in"):
        overlay(v1, v2, tubelets=bad)
    with pytest.raises(ValueError, match="must not overlap another output"):
        overlay(v1, v1)
    with pytest.raises(ValueError, match="share memory"):
        overlay(v1[:1].expand(2, -1, -1, -1, -1), v2)
    assert torch.equal(v1, before[0]) and torch.equal(v2, before[1])
    with pytest.raises(TypeError, match="inplace must be a bool"):
        TubeletOverlay(inplace=1)


@pytest.mark.parametrize("backend", cpu_backends())
@pytest.mark.parametrize("source", ["pair", "self", "batch"])
@pytest.mark.parametrize("data_format", ["BCTHW", "BTCHW"])
def test_out_receives_what_new_outputs_would_hold(backend, source, data_format):
    """out=(o1, o2) writes the default's pixels into the caller's tensors (any strides) and
    returns them; the clips are untouched, and a second call into the same tensors (now
    holding the first call's pixels) gives the second call's pixels."""
    shape = (3, 3, 5, 27, 31) if data_format == "BCTHW" else (3, 5, 3, 27, 31)
    v1, v2 = random_clips(dtype=torch.uint8)
    v1, v2 = (v.reshape(shape) for v in (v1[:, :, :5, :27, :31].contiguous(), v2[:, :, :5, :27, :31].contiguous()))
    before = v1.clone(), v2.clone()
    overlay = TubeletOverlay(num_tubelets=3, data_format=data_format, backend=backend, source=source)
    outs = (torch.full(shape, 7, dtype=torch.uint8), torch.empty(shape, dtype=torch.uint8).transpose(-1, -2).contiguous().transpose(-1, -2))
    for seed in (1, 2):
        expected = overlay(v1, v2, generator=torch.Generator().manual_seed(seed))
        got = overlay(v1, v2, generator=torch.Generator().manual_seed(seed), out=outs)
        assert got[0] is outs[0] and got[1] is outs[1]
        assert torch.equal(outs[0], expected[0]) and torch.equal(outs[1], expected[1])
    assert torch.equal(v1, before[0]) and torch.equal(v2, before[1])


def test_out_for_one_clip_and_the_clips_themselves():
    """overlay(x, out=o) for a single clip; out=(v1, v2) paints the clips in place, and
    out=(v1, o2) paints v1 in place and v2 into o2, each as the default would."""
    v1, v2 = random_clips(dtype=torch.float32)
    overlay = TubeletOverlay(num_tubelets=2)
    clip = v1[1]
    single = torch.empty_like(clip)
    expected = overlay(clip, generator=torch.Generator().manual_seed(4))
    assert overlay(clip, generator=torch.Generator().manual_seed(4), out=single) is single
    assert torch.equal(single, expected)
    expected = overlay(v1, v2, generator=torch.Generator().manual_seed(5))
    a, b = v1.clone(), v2.clone()
    assert overlay(a, b, generator=torch.Generator().manual_seed(5), out=(a, b)) == (a, b)
    assert torch.equal(a, expected[0]) and torch.equal(b, expected[1])
    a, o2 = v1.clone(), torch.empty_like(v2)
    overlay(a, v2, generator=torch.Generator().manual_seed(5), out=[a, o2])
    assert torch.equal(a, expected[0]) and torch.equal(o2, expected[1])


def test_out_refusals_name_the_argument_and_write_nothing():
    """Each bad out is refused before any pixel is written, with source='self' too (two
    paint calls: the second output's fault must not be found after the first is painted)."""
    v1, v2 = random_clips()
    o1, o2 = torch.zeros_like(v1), torch.zeros_like(v2)
    cases = [
        (TypeError, "out must be a pair of tensors", (o1,)),
        (TypeError, "out must be a pair of tensors", o1),
        (TypeError, r"out\[1\] must be a torch.Tensor", (o1, 3)),
        (ValueError, r"out\[1\] must be \(3, 3, 8, 40, 52\) torch.uint8 on cpu like v2", (o1, o2.float())),
        (ValueError, r"out\[0\] must be \(3, 3, 8, 40, 52\)", (o1[:2], o2)),
        (ValueError, r"out\[1\] must not overlap another output or another copy's input", (o1, v1)),
        (ValueError, r"out\[0\] must not overlap another output", (o1, o1)),
        (ValueError, r"out\[1\] has elements that share memory", (o1, o2[:1].expand(3, -1, -1, -1, -1))),
    ]
    for source in ("pair", "self"):
        overlay = TubeletOverlay(source=source)
        for error, message, out in cases:
            with pytest.raises(error, match=message):
                overlay(v1, v2, out=out)
            assert not o1.any() and not o2.any()
    with pytest.raises(TypeError, match="out must be a tensor, one per clip"):
        TubeletOverlay()(v1, out=(o1, o2))
    with pytest.raises(ValueError, match="out: this overlay paints v1 and v2 themselves"):
        TubeletOverlay(inplace=True)(v1, v2, out=(o1, o2))
    needs_grad = torch.zeros(v1.shape, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"out\[0\] requires grad"):
        TubeletOverlay()(v1.float(), v2.float(), out=(needs_grad, torch.zeros(v1.shape)))
    assert not o1.any() and not o2.any()
