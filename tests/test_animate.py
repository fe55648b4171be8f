"""`tubelets.animate`: pseudo camera motion over still images, checked on the pixels.

Expected values come from the documented convention (tubelets/stills.py) applied to
images whose pixels say where they are: ramps whose value is the column (or row), dots
at known places, constant images. The raw camera parameters an animation reports are
only used to say which motion was drawn; the pictures must then show that motion.
"""
from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from helpers import cpu_backends, run_python
from tubelets import Animation, Tubelets, animate, composite, describe
from tubelets.stills import MOTIONS, smallest_zoom


def ramps(height: int, width: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``(2, H, W)``: channel 0 is each pixel's column x, channel 1 its row y."""
    y, x = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    return torch.stack([x, y]).to(dtype)


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def centroid(frames: torch.Tensor) -> torch.Tensor:
    """``(T, 2)`` brightness-weighted ``(x, y)`` of each ``(T, H, W)`` frame, pixels."""
    weight = frames.double()
    y, x = torch.meshgrid(torch.arange(frames.shape[1]), torch.arange(frames.shape[2]), indexing="ij")
    total = weight.sum((1, 2))
    return torch.stack([(weight * x).sum((1, 2)) / total, (weight * y).sum((1, 2)) / total], -1)


# --- pan ------------------------------------------------------------------------------------


@pytest.mark.parametrize("speed", [1, 2, 3])
def test_a_pan_at_zoom_1_shows_crops_moving_speed_pixels_a_frame(speed):
    # 4 directions: right, up, left, down (counter-clockwise from +x, up is y decreasing).
    image = ramps(40, 64, torch.uint8)
    frames, (h, w) = 6, (24, 32)
    clip, animation = animate(image[None].expand(12, -1, -1, -1), frames, size=(h, w), zoom=1, speeds=(speed,),
                              directions=4, generator=generator(speed))
    assert clip.shape == (12, 2, frames, h, w) and clip.dtype == torch.uint8
    assert set(animation.direction.tolist()) == {0, 1, 2, 3}  # 12 draws see every direction
    steps = {0: (1, 0), 1: (0, -1), 2: (-1, 0), 3: (0, 1)}
    for b in range(12):
        dx, dy = (speed * s for s in steps[int(animation.direction[b])])
        x0, y0 = int(clip[b, 0, 0, 0, 0]), int(clip[b, 1, 0, 0, 0])  # the ramps name the first crop
        for t in range(frames):
            x, y = x0 + dx * t, y0 + dy * t
            assert torch.equal(clip[b, :, t], image[:, y : y + h, x : x + w]), (b, t)
        # The path is centred on the image, within half a pixel.
        assert abs(x0 + dx * (frames - 1) / 2 - (64 - w) / 2) <= 0.5
        assert abs(y0 + dy * (frames - 1) / 2 - (40 - h) / 2) <= 0.5
    assert torch.equal(animation.speed, torch.zeros(12, dtype=torch.int64))


def test_a_zoomed_pan_moves_the_content_speed_pixels_a_frame():
    # Default size (the image's) and zoom (the smallest that leaves room): x varies along rows.
    image = ramps(48, 64)
    clip, animation = animate(image[None].expand(16, -1, -1, -1), 5, speeds=(2,), directions=2,
                              generator=generator(3))
    assert clip.shape == (16, 2, 5, 48, 64)
    zoom = 1 / (clip[:, 0, :, :, 1:] - clip[:, 0, :, :, :-1])  # output pixels per image pixel
    assert float(zoom.min()) > 1.01 and torch.allclose(zoom, zoom[0, 0, 0, 0], rtol=1e-4)
    for b in range(16):
        moves_right = int(animation.direction[b]) == 0  # else 1: left
        shift = 2 if moves_right else -2
        later, earlier = clip[b, :, 1:], clip[b, :, :-1]
        # The camera moves `shift` pixels on screen: frame t + 1 at x shows frame t at x + shift.
        if moves_right:
            assert torch.allclose(later[..., :-2], earlier[..., 2:], atol=2e-3)
        else:
            assert torch.allclose(later[..., 2:], earlier[..., :-2], atol=2e-3)
        assert torch.allclose(later[1], earlier[1], atol=2e-3)  # no vertical motion
        assert shift * (later[0] - earlier[0]).mean() > 0


def test_while_zooming_and_turning_the_point_under_the_window_centre_moves_speed_pixels_a_frame():
    # Odd sizes: the output centre (30, 20) is a pixel. The ramps give the image point (x, y)
    # each pixel shows; their steps along x and y at the centre, the local map J = R(angle) / zoom.
    image = ramps(41, 61)
    clip, animation = animate(image[None].expand(12, -1, -1, -1), 6, motion=MOTIONS, speeds=(2,), max_zoom=2.0,
                              max_angle=30.0, generator=generator(12))
    shown = clip.double()
    centre = shown[:, :, :, 20, 30].permute(0, 2, 1)  # (B, T, 2)
    jacobian = torch.stack([shown[:, :, :, 20, 31] - shown[:, :, :, 20, 30],
                            shown[:, :, :, 21, 30] - shown[:, :, :, 20, 30]], -1).permute(0, 2, 1, 3)  # (B, T, 2, 2)
    zoom = 1 / jacobian.det().sqrt()
    assert float((zoom.amax(1) / zoom.amin(1)).min()) > 1.01  # every clip zooms
    # Where the point under the centre in frame t is in frame t + 1, relative to the centre.
    moved = torch.linalg.solve(jacobian[:, 1:], (centre[:, :-1] - centre[:, 1:])[..., None])[..., 0]  # (B, T-1, 2)
    heading = torch.deg2rad(45.0 * animation.direction.double())
    camera = 2 * torch.stack([torch.cos(heading), -torch.sin(heading)], -1)  # on screen, y down
    assert torch.allclose(moved, -camera[:, None].expand_as(moved), atol=2e-3)


def test_speed_0_gives_identical_frames_of_the_centre_window():
    image = torch.randint(0, 256, (3, 40, 64), dtype=torch.uint8, generator=generator(0))
    clip, animation = animate(image, 7, size=(24, 32), speeds=(0,))
    assert clip.shape == (3, 7, 24, 32)
    assert torch.equal(clip, image[:, None, 8:32, 16:48].expand(-1, 7, -1, -1))
    assert animation.speed.tolist() == [0] and animation.direction.tolist() == [-1]
    # The image's own size: zoom 1 leaves no room and needs none; the clip is the image.
    whole, _ = animate(image, 3, speeds=(0,))
    assert torch.equal(whole, image[:, None].expand(-1, 3, -1, -1))


def test_labels_match_the_motion_seen_in_the_clip():
    # 8 directions, 4 speeds (0 = still), 160 draws; speed and direction measured on the ramps.
    batch, speeds = 160, (0, 1, 2, 3)
    image = ramps(48, 64)
    clip, animation = animate(image[None].expand(batch, -1, -1, -1), 3, generator=generator(11))
    zoom = 1 / (clip[:, 0, 0, 20, 31] - clip[:, 0, 0, 20, 30]).double()
    shown = clip[:, :, :, 20, 30].double()  # (B, 2, T): the image point (x, y) under one pixel
    for t in range(2):
        velocity = (shown[:, :, t + 1] - shown[:, :, t]) * zoom[:, None]  # camera, output px per frame
        speed = velocity.norm(dim=-1)
        heading = torch.rad2deg(torch.atan2(-velocity[:, 1], velocity[:, 0]))  # counter-clockwise, y up
        seen = torch.round(heading / 45).long() % 8
        expected = torch.tensor(speeds, dtype=torch.float64)[animation.speed]
        assert torch.allclose(speed, expected, atol=1e-3)
        moving = expected > 0
        assert torch.equal(seen[moving], animation.direction[moving])
        off = (heading[moving] - 45.0 * animation.direction[moving] + 180) % 360 - 180
        assert float(off.abs().max()) < 0.1
        assert (animation.direction[~moving] == -1).all()
    assert set(animation.speed.tolist()) == {0, 1, 2, 3}
    assert set(animation.direction.tolist()) == set(range(-1, 8))


def test_the_camera_pans_the_opposite_way_to_the_content_describe_names():
    image = torch.rand(3, 40, 64, generator=generator(1))
    clip, animation = animate(image, 8, speeds=(3,), directions=1)  # the camera pans right
    assert animation.direction.tolist() == [0]
    assert "to the left" in describe(animation.tubelets, 40, 64)[0]
    assert torch.equal(animation.tubelets.frame_boxes(40, 64)[0, 0],
                       torch.tensor([[0, 0, 63, 39]] * 8, dtype=torch.int32))
    # The tubelets are the clip: composite replays them.
    replay = composite(torch.zeros(1, 3, 8, 40, 64), image[None, :, None], animation.tubelets)
    assert torch.equal(replay[0], clip)


# --- zoom and rotate ---------------------------------------------------------------------------


def test_a_centred_dot_stays_centred_under_zoom_and_the_ramps_show_the_zoom():
    dot = torch.zeros(1, 41, 61)
    dot[0, 20, 30] = 1.0
    clip, animation = animate(torch.cat([dot, ramps(41, 61)]), 9, motion=("zoom",), max_zoom=3.0,
                              generator=generator(5))
    assert animation.speed.tolist() == [-1] and animation.direction.tolist() == [-1]
    assert torch.allclose(centroid(clip[0]), torch.tensor([30.0, 20.0], dtype=torch.float64), atol=1e-3)
    # Along a row, the x ramp grows by 1 / zoom per output pixel.
    slope = (clip[1, :, 20, 31:] - clip[1, :, 20, 30:-1]).mean(-1).double()
    zooms = animation.zooms[0].double()
    assert torch.allclose(1 / slope, zooms, rtol=1e-4)
    assert float(zooms.min()) >= 1 - 1e-6 and float(zooms.max()) <= 3 + 1e-6
    assert torch.allclose(zooms[1:-1] ** 2, zooms[:-2] * zooms[2:], rtol=1e-5)  # geometric in t
    assert abs(float(zooms[-1] / zooms[0]) - 1) > 0.01  # it zooms


def test_a_known_point_turns_to_the_rotated_position():
    # A dot 8 px right of the image centre (40, 30); a 31×31 window centred there at zoom 1.
    image = torch.zeros(1, 61, 81)
    image[0, 30, 48] = 1.0
    clip, animation = animate(image[None].expand(6, -1, -1, -1), 7, size=(31, 31), motion=("rotate",),
                              max_angle=60.0, generator=generator(2))
    assert float(animation.zooms.min()) == 1.0
    angles = animation.angles.double()
    assert float(angles.abs().max()) <= 60 and float(angles.min()) < -20 and float(angles.max()) > 20
    assert torch.allclose(angles[:, 1:] - angles[:, :-1], (angles[:, -1:] - angles[:, :1]) / 6, atol=1e-4)
    theta = torch.deg2rad(angles)
    # Turning the window clockwise by theta turns the content counter-clockwise on screen.
    expected = torch.stack([15 + 8 * torch.cos(theta), 15 - 8 * torch.sin(theta)], -1)
    for b in range(6):
        assert (centroid(clip[b, 0]) - expected[b]).abs().max() < 1.0, b


def test_every_motion_together_keeps_the_window_inside_the_image():
    image = torch.full((2, 3, 30, 50), 200, dtype=torch.uint8)
    clip, animation = animate(image, 12, motion=MOTIONS, max_zoom=2.0, max_angle=45.0, generator=generator(8))
    assert (clip == 200).all()  # nothing left blank: every pixel shows the image
    assert _corners_inside(animation, (30, 50), (30, 50))


def _corners_inside(animation: Animation, image_size, size) -> bool:
    """Whether the window's corner pixel centres, from the documented camera map, lie within
    the image's pixel centres in every frame."""
    (height, width), (h, w) = image_size, size
    corners = torch.tensor([[-(w - 1) / 2, -(h - 1) / 2], [(w - 1) / 2, -(h - 1) / 2],
                            [-(w - 1) / 2, (h - 1) / 2], [(w - 1) / 2, (h - 1) / 2]], dtype=torch.float64)
    theta = torch.deg2rad(animation.angles.double())[..., None]  # (B, T, 1)
    zoom = animation.zooms.double()[..., None]
    x = animation.centers[..., :1].double() + (torch.cos(theta) * corners[:, 0] - torch.sin(theta) * corners[:, 1]) / zoom
    y = animation.centers[..., 1:].double() + (torch.sin(theta) * corners[:, 0] + torch.cos(theta) * corners[:, 1]) / zoom
    slack = 1e-4
    return bool((x >= -slack).all() and (x <= width - 1 + slack).all() and (y >= -slack).all()
                and (y <= height - 1 + slack).all())


@given(
    image_size=st.tuples(st.integers(2, 40), st.integers(2, 40)),
    fraction=st.tuples(st.floats(0.05, 1.0), st.floats(0.05, 1.0)),
    frames=st.integers(1, 6),
    motion=st.sets(st.sampled_from(MOTIONS), min_size=1).map(sorted).map(tuple),
    speeds=st.lists(st.floats(0.0, 4.0), min_size=1, max_size=4, unique=True).map(sorted).map(tuple),
    directions=st.integers(1, 9),
    max_zoom=st.floats(1.0, 3.0),
    max_angle=st.floats(0.0, 180.0),
    seed=st.integers(0, 2**31),
)
def test_any_arguments_keep_the_window_inside_the_image(image_size, fraction, frames, motion, speeds, directions,
                                                        max_zoom, max_angle, seed):
    height, width = image_size
    size = tuple(max(1, round(f * n)) for f, n in zip(fraction, image_size))
    image = torch.full((2, 1, height, width), 255, dtype=torch.uint8)
    clip, animation = animate(image, frames, size=size, motion=motion, speeds=speeds, directions=directions,
                              max_zoom=max_zoom, max_angle=max_angle, generator=generator(seed))
    assert clip.shape == (2, 1, frames, *size)
    assert (clip == 255).all()
    assert _corners_inside(animation, image_size, size)
    base = float(animation.zooms.min()) if "zoom" not in motion else None
    assert base is None or torch.equal(animation.zooms, torch.full_like(animation.zooms, base))
    assert float(animation.angles.abs().max()) <= (max_angle if "rotate" in motion else 0.0) + 1e-4
    if "pan" in motion:
        assert ((animation.speed >= 0) & (animation.speed < len(speeds))).all()
        still = torch.tensor(speeds, dtype=torch.float64)[animation.speed] == 0
        assert ((animation.direction == -1) == still).all()
        assert (animation.direction < directions).all()
    else:
        assert (animation.speed == -1).all() and (animation.direction == -1).all()


def test_smallest_zoom_is_the_documented_rule():
    # Pan only, 8 directions: per axis, the window's width in image-pixel-centre gaps plus the path.
    assert smallest_zoom((40, 64), (40, 64), 16, speeds=(0, 3)) == pytest.approx((39 + 45) / 39)
    assert smallest_zoom((40, 64), (24, 32), 6, speeds=(2,)) == pytest.approx(max((31 + 10) / 63, (23 + 10) / 39))
    # Left and right only: no room needed along y.
    assert smallest_zoom((40, 64), (40, 64), 16, speeds=(3,), directions=2) == pytest.approx((63 + 45) / 63)
    # A square turned by 45 degrees reaches its half-diagonal.
    assert smallest_zoom((41, 41), (21, 21), 1, motion=("rotate",), max_angle=45) == pytest.approx(
        2 * 10 * math.sqrt(2) / 40)
    assert smallest_zoom((1, 40), (1, 20), 5, speeds=(1,), directions=4) == math.inf


# --- batches, dtypes, randomness, backends ---------------------------------------------------


def test_a_batch_is_the_images_one_by_one_with_the_same_draws():
    images = torch.randint(0, 256, (3, 3, 20, 24), dtype=torch.uint8, generator=generator(4))
    arguments = dict(size=(12, 14), motion=MOTIONS, max_angle=30.0)
    clip, animation = animate(images, 5, generator=generator(7), **arguments)
    draws = generator(7)  # a CPU generator draws the batch's rows one after another
    singles = [animate(image, 5, generator=draws, **arguments) for image in images]
    assert torch.equal(clip, torch.stack([single for single, _ in singles]))
    for field in ("speed", "direction", "centers", "zooms", "angles"):
        assert torch.equal(getattr(animation, field), torch.cat([getattr(a, field) for _, a in singles])), field
    assert animation.tubelets == Tubelets.cat([a.tubelets for _, a in singles])


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float16, torch.bfloat16, torch.float32])
def test_dtypes_paint_the_float32_clip_rounded_to_the_dtype(dtype):
    values = torch.rand(2, 3, 18, 22, generator=generator(6)) * 255
    image = values.round().to(dtype) if dtype == torch.uint8 else values.to(dtype)
    arguments = dict(motion=MOTIONS, max_angle=20.0, generator=generator(9))
    clip, _ = animate(image, 4, **arguments)
    exact, _ = animate(image.float(), 4, **{**arguments, "generator": generator(9)})
    assert clip.dtype == dtype
    # uint8 rounds half up; the floats round to nearest even, from the same float32 values.
    expected = torch.floor(exact + 0.5).clamp(0, 255).to(dtype) if dtype == torch.uint8 else exact.to(dtype)
    assert torch.equal(clip, expected)


def test_the_same_generator_seed_gives_the_same_clips_and_another_seed_others():
    image = torch.rand(8, 3, 16, 16, generator=generator(0))
    first = animate(image, 4, motion=MOTIONS, generator=generator(1))
    again = animate(image, 4, motion=MOTIONS, generator=generator(1))
    other = animate(image, 4, motion=MOTIONS, generator=generator(2))
    assert torch.equal(first[0], again[0]) and torch.equal(first[1].centers, again[1].centers)
    assert first[1].tubelets == again[1].tubelets
    assert not torch.equal(first[1].zooms, other[1].zooms) and not torch.equal(first[0], other[0])
    torch.manual_seed(5)
    global_rng = animate(image, 4, motion=MOTIONS)
    torch.manual_seed(5)
    assert torch.equal(global_rng[0], animate(image, 4, motion=MOTIONS)[0])


def test_every_cpu_backend_paints_the_same_clip():
    image = torch.randint(0, 256, (2, 3, 21, 30), dtype=torch.uint8, generator=generator(3))
    clips = [animate(image, 5, motion=MOTIONS, max_angle=40.0, backend=backend, generator=generator(1))[0]
             for backend in cpu_backends()]
    assert len(clips) >= 1 and all(torch.equal(clip, clips[0]) for clip in clips)


def test_an_empty_batch_gives_an_empty_clip():
    clip, animation = animate(torch.zeros(0, 3, 10, 12), 4, size=(6, 8))
    assert clip.shape == (0, 3, 4, 6, 8) and animation.speed.shape == (0,)
    assert animation.centers.shape == (0, 4, 2)


TRITON_CHILD = """
import json, torch
from tubelets import animate
image = torch.randint(0, 256, (2, 3, 13, 17), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
clips = [animate(image, 3, size=(9, 11), motion=("pan", "zoom", "rotate"), max_angle=30.0, backend=backend,
                 generator=torch.Generator().manual_seed(4))[0] for backend in ("torch", "triton")]
print(json.dumps({"equal": torch.equal(*clips), "shape": list(clips[1].shape)}))
"""


def test_the_triton_backend_paints_the_same_clip_under_the_interpreter():
    pytest.importorskip("triton")
    result = run_python(TRITON_CHILD, interpret=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"equal": True, "shape": [2, 3, 3, 9, 11]}


# --- errors ----------------------------------------------------------------------------------

IMAGE = torch.zeros(3, 20, 24)


@pytest.mark.parametrize("call, error, match", [
    (lambda: animate(torch.zeros(20, 24)), ValueError, r"image must have shape \(C, H, W\) or \(B, C, H, W\)"),
    (lambda: animate(torch.zeros(1, 1, 3, 20, 24)), ValueError, r"image must have shape"),
    (lambda: animate(IMAGE.long()), TypeError, r"image: dtype torch.int64"),
    (lambda: animate(torch.zeros(20, 24, 3)), ValueError, r"image has 20 channels.*image.permute\(2, 0, 1\)"),
    (lambda: animate(torch.zeros(2, 20, 24, 3)), ValueError, r"image.permute\(0, 3, 1, 2\)"),
    (lambda: animate(torch.zeros(6, 20, 24), channels=3), ValueError, r"channels=3"),
    (lambda: animate(IMAGE, size=(20, 24), zoom=1), ValueError, r"size \(20, 24\) does not fit .* zoom >= "),
    (lambda: animate(IMAGE, size=(10, 30), zoom=1, speeds=(0,)), ValueError, r"size \(10, 30\) does not fit"),
    (lambda: animate(torch.zeros(3, 1, 24), speeds=(1,), directions=4), ValueError, r"at any zoom"),
    (lambda: animate(IMAGE, motion=("pan", "tilt")), ValueError, r"motion: unknown 'tilt'"),
    (lambda: animate(IMAGE, motion="pan"), TypeError, r"motion must be a tuple"),
    (lambda: animate(IMAGE, motion=()), ValueError, r"motion: give at least one"),
    (lambda: animate(IMAGE, speeds=()), ValueError, r"speeds"),
    (lambda: animate(IMAGE, speeds=(2, 1)), ValueError, r"speeds"),
    (lambda: animate(IMAGE, speeds=(-1, 1)), ValueError, r"speeds"),
    (lambda: animate(IMAGE, speeds=(0, math.nan)), ValueError, r"speeds"),
    (lambda: animate(IMAGE, directions=0), ValueError, r"directions must be an integer >= 1"),
    (lambda: animate(IMAGE, frames=0), ValueError, r"frames must be an integer >= 1"),
    (lambda: animate(IMAGE, size=(0, 4)), ValueError, r"size\[0\] \(h\)"),
    (lambda: animate(IMAGE, size=12), ValueError, r"size must be an \(h, w\) pair"),
    (lambda: animate(IMAGE, max_zoom=0.5), ValueError, r"max_zoom"),
    (lambda: animate(IMAGE, max_angle=200), ValueError, r"max_angle"),
    (lambda: animate(IMAGE, zoom=0), ValueError, r"zoom must be a finite number > 0"),
    (lambda: animate(IMAGE, zoom=math.inf), ValueError, r"zoom must be a finite number"),
    (lambda: animate(IMAGE, generator=0), TypeError, r"generator must be a torch.Generator"),
    (lambda: animate(IMAGE, backend="gpu"), ValueError, r"backend: unknown 'gpu'"),
    (lambda: animate(torch.zeros(3, 20, 24, requires_grad=True)), RuntimeError, r"image requires grad"),
])
def test_errors_name_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_animation_is_frozen():
    _, animation = animate(IMAGE, 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        animation.speed = torch.zeros(1)  # type: ignore[misc]
