"""`tubelets.describe`: captions from the motion parameters.

Expected words are worked out by hand from tubelets built here (a 20 px patch in a 112 px
frame is small, 3 px per frame in a 112 px frame is 0.027 frame per frame, a moderate
pace, ...), not by the code under test; the module's vocabulary tables are used only to
read which direction a paraphrase names.
"""
import re

import pytest
import torch
from hypothesis import given, strategies as st

import tubelets
from tubelets import TubeletConfig, Tubelets, describe, sample_tubelets
from tubelets.captions import DIRECTIONS, NO_PATCH, STILL

FRAME = 112  # every hand-built clip here is 112 × 112 px unless said otherwise
OPPOSITE = {"right": "left", "left": "right", "up": "down", "down": "up", "upper right": "lower left",
            "lower left": "upper right", "upper left": "lower right", "lower right": "upper left"}


def build(centers, *, angles=None, scales=None, shears=None, patch=(20, 20), opacity=1.0) -> Tubelets:
    """Tubelets of one clip per row of ``centers`` ``(B, M, T, 2)``, a ``patch`` (w, h) px
    crop at the top-left corner; the compiled map is left zero (captions do not read it)."""
    centers = torch.as_tensor(centers, dtype=torch.float32)
    batch, count, frames = centers.shape[:3]
    w, h = patch
    return Tubelets(
        inv_affine=torch.zeros(batch, count, frames, 2, 3),
        opacity=torch.full((batch, count, frames), float(opacity)),
        src_box=torch.tensor([0, 0, w - 1, h - 1], dtype=torch.int32).expand(batch, count, 4).contiguous(),
        src_frame=torch.zeros(batch, count, dtype=torch.int32),
        shape=torch.zeros(batch, count, dtype=torch.int32),
        softness=torch.zeros(batch, count),
        centers=centers,
        angles=torch.zeros(batch, count, frames) if angles is None else torch.as_tensor(angles).float().expand(batch, count, frames),
        scales=torch.ones(batch, count, frames, 2) if scales is None else torch.as_tensor(scales).float().expand(batch, count, frames, 2),
        shears=torch.zeros(batch, count, frames, 2) if shears is None else torch.as_tensor(shears).float().expand(batch, count, frames, 2),
    )


def line(start, velocity, frames=16):
    """``(1, 1, T, 2)`` centres from ``start`` moving ``velocity`` px per frame."""
    t = torch.arange(frames, dtype=torch.float32)[:, None]
    return (torch.tensor(start, dtype=torch.float32) + t * torch.tensor(velocity, dtype=torch.float32))[None, None]


_PHRASES = sorted(((phrase, name) for name, phrases in DIRECTIONS.items() for phrase in phrases),
                  key=lambda item: -len(item[0]))
_DIRECTION = re.compile(r"\b(" + "|".join(re.escape(p) for p, _ in _PHRASES) + r")\b")


def directions_in(text):
    """The directions a caption names, read against the synonym sets (longest phrase first,
    so "to the upper right" is not read as "up")."""
    lookup = dict(_PHRASES)
    return [lookup[m] for m in _DIRECTION.findall(text)]


def sense(text):
    """"ccw", "cw" or None: the rotation sense a default-words caption names."""
    if "counter-clockwise" in text:
        return "ccw"
    return "cw" if "clockwise" in text else None


# --- hand-built motion --------------------------------------------------------------------

def test_a_patch_moving_right_reads_exactly():
    """20 px of 112 is 0.18 of the frame (small); 3 px per frame is 0.027 frame per frame
    (moderate: 0.02 to 0.06); a line is straight."""
    tubes = build(line((10, 50), (3, 0)))
    assert describe(tubes, FRAME, FRAME) == ["A small patch moves to the right at a moderate pace in a straight line."]


@pytest.mark.parametrize("velocity, expected", [
    ((3, 0), "right"), ((3, -3), "upper right"), ((0, -3), "up"), ((-3, -3), "upper left"),
    ((-3, 0), "left"), ((-3, 3), "lower left"), ((0, 3), "down"), ((3, 3), "lower right"),
])
def test_direction_of_the_net_displacement_on_screen(velocity, expected):
    """y points down: a centre whose y decreases goes up."""
    text = describe(build(line((56, 56), velocity)), FRAME, FRAME)[0]
    assert directions_in(text) == [expected], text


@pytest.mark.parametrize("velocity, forward, backward", [
    ((3, 0), "right", "left"), ((0, -2), "up", "down"), ((2, 2), "lower right", "upper left")])
def test_reversing_the_trajectory_flips_the_direction(velocity, forward, backward):
    centers = line((40, 60), velocity)
    assert directions_in(describe(build(centers), FRAME, FRAME)[0]) == [forward]
    assert directions_in(describe(build(centers.flip(2)), FRAME, FRAME)[0]) == [backward]


def test_reversing_sampled_linear_paths_gives_opposite_directions():
    """A metamorphic check over sampled paths: what goes one way comes back the other."""
    tubes = sample_tubelets(TubeletConfig(motion="linear", num_tubelets=1), 20, 16, FRAME, FRAME,
                            seed=torch.tensor(3))
    back = Tubelets.from_dict({**tubes.to_dict(), "centers": tubes.centers.flip(2)})
    compared = 0
    for there, returned in zip(describe(tubes, FRAME, FRAME), describe(back, FRAME, FRAME)):
        going, coming = directions_in(there), directions_in(returned)
        assert len(going) == len(coming)
        if going:
            assert coming == [OPPOSITE[going[0]]], (there, returned)
            compared += 1
    assert compared >= 10  # most sampled paths have a direction


def test_speed_words():
    """1 px per frame is 0.009 of a 112 px frame per frame (slow); 10 px per frame 0.089 (quick)."""
    assert describe(build(line((10, 50), (1, 0))), FRAME, FRAME) == [
        "A small patch moves slowly to the right in a straight line."]
    assert describe(build(line((10, 50), (10, 0), frames=8)), FRAME, FRAME) == [
        "A small patch moves quickly to the right in a straight line."]
    # The same 3 px per frame is slow in a 224 px frame (0.013).
    assert "slowly" in describe(build(line((10, 50), (3, 0))), 224, 224)[0]


def test_size_words():
    """Crop side over frame side: 20/112 = 0.18 small, 40/112 = 0.36 medium, 80/112 = 0.71 large."""
    still = torch.full((1, 1, 4, 2), 50.0)
    assert describe(build(still, patch=(20, 20)), FRAME, FRAME) == ["A small patch stays still."]
    assert describe(build(still, patch=(40, 40)), FRAME, FRAME) == ["A medium-sized patch stays still."]
    assert describe(build(still, patch=(80, 80)), FRAME, FRAME) == ["A large patch stays still."]


def test_an_omitted_frame_size_is_inferred_from_the_crops_and_centres():
    """A 40 px crop and centres up to x = 59: the inferred frame is 60 × 60 px at least
    (40/60 = 0.67, large); in the true 224 px frame it is small (0.18)."""
    tubes = build(torch.tensor([[[[59.0, 20.0], [59.0, 20.0]]]]), patch=(40, 40))
    assert describe(tubes) == ["A large patch stays still."]
    assert describe(tubes, 224, 224) == ["A small patch stays still."]


def test_a_tubelet_with_no_motion_is_still():
    assert describe(build(torch.full((1, 1, 16, 2), 30.0)), FRAME, FRAME) == ["A small patch stays still."]
    # Half a pixel of drift over the clip is within STILL_PX (1 px).
    assert describe(build(line((30, 30), (0.5 / 15, 0))), FRAME, FRAME) == ["A small patch stays still."]


def test_a_single_frame_is_still():
    assert describe(build(torch.full((2, 1, 1, 2), 30.0)), FRAME, FRAME) == ["A small patch stays still."] * 2


def test_path_shapes():
    """An L (right 32 px, then up 32 px) turns once; a triangle wave with corners every
    4 frames zigzags; a quarter circle of radius 60 px curves."""
    t = torch.arange(17, dtype=torch.float32)
    ell = torch.stack([torch.clamp(t, max=8) * 4, 60 - torch.clamp(t - 8, min=0) * 4], -1)[None, None]
    text = describe(build(ell), FRAME, FRAME)[0]
    assert text == "A small patch moves to the upper right at a moderate pace with one sharp turn.", text

    wave = torch.stack([4 * t, 40 + 4 * (4 - (t % 8 - 4).abs())], -1)[None, None]
    text = describe(build(wave), FRAME, FRAME)[0]
    assert "along a zigzag path" in text and directions_in(text) == ["right"], text

    theta = torch.linspace(0, torch.pi / 2, 16)
    arc = torch.stack([10 + 60 * theta.sin(), 10 + 60 * (1 - theta.cos())], -1)[None, None]
    text = describe(build(arc), FRAME, FRAME)[0]
    assert "along a curving path" in text and directions_in(text) == ["lower right"], text


def test_a_path_that_comes_back_names_no_direction():
    """Out 40 px to the right and back: net 0, path 80 px."""
    t = torch.arange(17, dtype=torch.float32)
    there_and_back = torch.stack([20 + 40 - (5 * t - 40).abs(), torch.full_like(t, 50)], -1)[None, None]
    text = describe(build(there_and_back), FRAME, FRAME)[0]
    assert text == "A small patch moves around at a moderate pace and ends near where it started.", text
    assert directions_in(text) == []


def test_clockwise_and_counter_clockwise():
    """Angles are degrees clockwise on screen: increasing is clockwise."""
    centers = torch.full((1, 1, 16, 2), 50.0)
    turning = describe(build(centers, angles=torch.linspace(0, 40, 16)), FRAME, FRAME)[0]
    assert turning == "A small patch stays still while rotating clockwise by about 40 degrees."
    back = describe(build(centers, angles=torch.linspace(0, -40, 16)), FRAME, FRAME)[0]
    assert back == "A small patch stays still while rotating counter-clockwise by about 40 degrees."
    assert (sense(turning), sense(back)) == ("cw", "ccw")
    # Rounded to 5 degrees: 87 reads "about 85".
    assert "by about 85 degrees" in describe(build(centers, angles=torch.linspace(10, 97, 16)), FRAME, FRAME)[0]
    # Out to +30 and back to 0 names no sense.
    rocking = describe(build(centers, angles=30 - (torch.linspace(-30, 30, 16)).abs()), FRAME, FRAME)[0]
    assert sense(rocking) is None and "rocking back and forth" in rocking


def test_growing_shrinking_and_shearing():
    centers = torch.full((1, 1, 16, 2), 50.0)
    ramp = torch.linspace(0, 1, 16)[:, None]
    grow = describe(build(centers, scales=1 + 0.5 * ramp.expand(16, 2)), FRAME, FRAME)[0]
    shrink = describe(build(centers, scales=1 - 0.4 * ramp.expand(16, 2)), FRAME, FRAME)[0]
    assert grow == "A small patch stays still while growing."
    assert shrink == "A small patch stays still while shrinking."
    # Wider by 1.5 and narrower by 1/1.5: the same area, another shape.
    stretch = torch.cat([1.5 ** ramp, 1.5 ** -ramp], -1)
    assert describe(build(centers, scales=stretch), FRAME, FRAME)[0] == "A small patch stays still while stretching."
    shear = torch.cat([0.5 * ramp, 0 * ramp], -1)
    assert describe(build(centers, shears=shear), FRAME, FRAME)[0] == "A small patch stays still while shearing."
    both = describe(build(centers, angles=torch.linspace(0, 20, 16), scales=1 + 0.5 * ramp.expand(16, 2),
                          shears=shear), FRAME, FRAME)[0]
    assert both == "A small patch stays still while rotating clockwise by about 20 degrees, growing and shearing."


def test_tubelets_of_one_clip_share_a_sentence():
    centers = torch.cat([line((10, 50), (3, 0)), torch.full((1, 1, 16, 2), 30.0)], 1)
    tubes = build(centers, scales=torch.ones(16, 2))
    assert describe(tubes, FRAME, FRAME) == [
        "A small patch moves to the right at a moderate pace in a straight line, and a small patch stays still."]


def test_invisible_tubelets_are_left_out():
    assert describe(build(line((10, 50), (3, 0)), opacity=0.0), FRAME, FRAME) == [NO_PATCH[0]]
    tubes = sample_tubelets(TubeletConfig(num_tubelets=0), 3, 8, 32, 32, seed=torch.tensor(0))
    assert describe(tubes) == [NO_PATCH[0]] * 3


# --- sampled tubelets ---------------------------------------------------------------------

def test_static_tubelets_are_still_in_every_clip():
    tubes = sample_tubelets(TubeletConfig(motion="static", num_tubelets=3, transforms=("rotation", "scale")),
                            8, 16, FRAME, FRAME, seed=torch.tensor(0))
    for text in describe(tubes, FRAME, FRAME):
        assert text.count(STILL[0]) == 3 and directions_in(text) == [], text
    for text in describe(tubes, FRAME, FRAME, seed=4):
        assert sum(text.count(phrase) for phrase in STILL) == 3 and directions_in(text) == [], text


def test_one_sentence_per_clip():
    tubes = sample_tubelets(TubeletConfig(num_tubelets=3), 5, 16, FRAME, FRAME, seed=torch.tensor(0))
    texts = describe(tubes, FRAME, FRAME)
    assert len(texts) == 5
    for text in texts:
        assert text[0].isupper() and text.endswith(".") and text.count(".") == 1, text
        assert len(re.findall(r"\bpatch\b", text)) == 3, text  # one clause per tubelet


def test_the_same_input_gives_the_same_text():
    tubes = sample_tubelets(TubeletConfig(motion="linear", transforms=("rotation", "scale", "shear")), 6, 16,
                            FRAME, FRAME, seed=torch.tensor(1))
    assert describe(tubes, FRAME, FRAME) == describe(tubes, FRAME, FRAME)
    assert describe(tubes, FRAME, FRAME, seed=7) == describe(tubes, FRAME, FRAME, seed=7)
    copy = Tubelets.from_dict({k: None if v is None else v.clone() for k, v in tubes.to_dict().items()})
    assert describe(copy, FRAME, FRAME, seed=7) == describe(tubes, FRAME, FRAME, seed=7)


def test_seeded_paraphrases_vary_but_keep_the_direction():
    tubes = build(line((10, 50), (3, -3)))  # upper right
    assert describe(tubes, FRAME, FRAME)[0] == "A small patch moves to the upper right at a moderate pace in a straight line."
    texts = {describe(tubes, FRAME, FRAME, seed=seed)[0] for seed in range(40)}
    assert len(texts) > 5
    for text in texts:
        assert directions_in(text) == ["upper right"], text
        assert text.endswith(".")
    # The direction phrase itself varies over seeds, always within the "upper right" set.
    named = {m for text in texts for m in _DIRECTION.findall(text)}
    assert len(named) > 1 and named <= set(DIRECTIONS["upper right"])


def test_arguments_are_checked():
    tubes = build(line((10, 50), (3, 0)))
    with pytest.raises(TypeError):
        describe(tubes.to_dict())
    with pytest.raises(ValueError):
        describe(tubes, 0, 112)
    with pytest.raises(TypeError):
        describe(tubes, seed="7")


def test_describe_is_exported():
    assert "describe" in tubelets.__all__ and tubelets.describe is describe


@given(
    motion=st.sampled_from(["static", "linear", "nonlinear"]),
    transforms=st.sets(st.sampled_from(["rotation", "scale", "shear"])),
    num_tubelets=st.integers(0, 4),
    batch=st.integers(0, 4),
    frames=st.integers(1, 20),
    height=st.integers(1, 64),
    width=st.integers(1, 64),
    p=st.floats(0.0, 1.0),
    keyframes=st.integers(2, 6),
    draw=st.integers(0, 2**62),
    words=st.one_of(st.none(), st.integers(-2**70, 2**70)),
    give_size=st.booleans(),
)
def test_describe_never_raises_on_sampled_tubelets(motion, transforms, num_tubelets, batch, frames, height, width,
                                                   p, keyframes, draw, words, give_size):
    config = TubeletConfig(motion=motion, transforms=tuple(sorted(transforms)), num_tubelets=num_tubelets, p=p,
                           keyframes=keyframes)
    tubes = sample_tubelets(config, batch, frames, height, width, seed=torch.tensor(draw))
    size = (height, width) if give_size else ()
    texts = describe(tubes, *size, seed=words)
    assert isinstance(texts, list) and len(texts) == batch
    for text in texts:
        assert isinstance(text, str) and text and text.endswith(".") and text[0].isupper(), text
