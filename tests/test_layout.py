"""The layout guard: a clip in another layout than the overlay's is refused, by name."""
import pytest
import torch

from tubelets import TubeletOverlay


def clip(*shape):
    return torch.randint(0, 256, shape, dtype=torch.uint8)


@pytest.mark.parametrize("data_format, shape, hint", [
    ("BCTHW", (2, 16, 3, 20, 24), "use data_format='BTCHW'"),       # a BTCHW batch
    ("BTCHW", (2, 3, 16, 20, 24), "use data_format='BCTHW'"),       # a BCTHW batch
    ("BCTHW", (16, 20, 24, 3), r"channels last: pass clip.permute\(3, 0, 1, 2\)"),   # (T, H, W, C)
    ("BCTHW", (2, 16, 20, 24, 3), r"channels last: pass clip.permute\(0, 4, 1, 2, 3\)"),
    ("BTCHW", (16, 20, 24, 3), r"channels last: pass clip.permute\(0, 3, 1, 2\)"),
    ("BCTHW", (8, 8, 20, 24), "no layout of video fits"),
])
def test_a_clip_in_another_layout_is_refused_with_the_likely_one(data_format, shape, hint):
    overlay = TubeletOverlay(data_format=data_format)
    v1 = clip(*shape)
    with pytest.raises(ValueError, match=rf"^v1 has \d+ channels as {data_format[-len(shape):]} .*{hint}"):
        overlay(v1, v1.clone())


@pytest.mark.parametrize("shape", [(3, 16, 20, 24, 3), (16, 20, 24, 3)])
def test_the_permute_the_refusal_names_gives_the_overlays_layout(shape):
    """The hint is the fix: the permuted clip is accepted and keeps its channels."""
    overlay = TubeletOverlay()
    v1 = clip(*shape)
    with pytest.raises(ValueError) as refusal:
        overlay(v1)
    order = [int(i) for i in str(refusal.value).split("permute(")[1].split(")")[0].split(", ")]
    fixed = v1.permute(order)
    assert fixed.shape[-4] == shape[-1]
    assert overlay(fixed).shape == fixed.shape


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_up_to_four_channels_pass(channels):
    v1 = clip(2, channels, 3, 20, 24)
    assert TubeletOverlay()(v1).shape == v1.shape


def test_more_channels_pass_when_stated():
    v1 = clip(2, 16, 3, 20, 24)
    overlay = TubeletOverlay(channels=16)
    painted = overlay(v1)
    assert painted.shape == v1.shape and not torch.equal(painted, v1)
    assert "channels=16" in repr(overlay)


def test_a_stated_channel_count_must_match():
    with pytest.raises(ValueError, match=r"^v1 has 3 channels as BCTHW .*, but channels=16"):
        TubeletOverlay(channels=16)(clip(2, 3, 3, 20, 24))


@pytest.mark.parametrize("channels, error", [(0, ValueError), (-3, ValueError), (2.0, TypeError), (True, TypeError)])
def test_channels_must_be_a_positive_int(channels, error):
    with pytest.raises(error, match="channels must"):
        TubeletOverlay(channels=channels)
