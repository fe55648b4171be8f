"""Bad input gets a clear error naming the argument; awkward but valid input just works.

Two public entry points take videos: the pair overlay ``TubeletOverlay()(v1, v2)`` and
``composite(video, source, tubelets)``. Where both can see a case, both are tested.
"""
import dataclasses
import math
import random
import re

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from helpers import cpu_backends, outside_every_patch, random_pair, run_python
from tubelets import TubeletConfig, TubeletOverlay, Tubelets, composite, sample_tubelets
from tubelets import native, ops
from tubelets.config import MOTIONS, TRANSFORMS

SHAPE = (2, 3, 4, 10, 12)  # (B, C, T, H, W)
FLOATS = [torch.float16, torch.bfloat16, torch.float32]
DTYPES = [torch.uint8, *FLOATS]


def clips(shape=SHAPE, dtype=torch.uint8, seed=0):
    """Two random clips of ``shape`` (``SHAPE`` unless given): see helpers.random_pair."""
    return random_pair(shape, dtype, seed)


def tubelets_for(shape=SHAPE, seed=0, **fields) -> Tubelets:
    """Tubelets sampled for clips of ``shape`` ``(B, C, T, H, W)`` with config ``fields``."""
    batch, _, frames, height, width = shape
    generator = torch.Generator().manual_seed(seed)
    return sample_tubelets(TubeletConfig(**fields), batch, frames, height, width, generator=generator)


def arguments(entry: str) -> dict:
    """Valid arguments of ``entry``: ``v1``, ``v2`` for "overlay"; ``video``, ``source`` for "composite"."""
    v1, v2 = clips()
    first, second = ("v1", "v2") if entry == "overlay" else ("source", "video")
    return {first: v1, second: v2, "tubelets": tubelets_for()}


def call(entry: str, args: dict):
    if entry == "overlay":
        return TubeletOverlay()(args["v1"], args["v2"], tubelets=args["tubelets"])
    return composite(args["video"], args["source"], args["tubelets"], out=args.get("out"))


@pytest.mark.parametrize("entry, name, shape", [
    ("overlay", "v1", SHAPE[2:]),
    ("overlay", "v1", (1, *SHAPE)),
    ("overlay", "v2", SHAPE[1:]),
    ("composite", "video", SHAPE[1:]),
    ("composite", "source", (1, *SHAPE)),
])
def test_wrong_rank(entry, name, shape):
    args = arguments(entry)
    args[name] = torch.zeros(shape, dtype=torch.uint8)
    with pytest.raises(ValueError, match=f"^{name} must"):
        call(entry, args)


MISMATCHES = {
    "shape": lambda x: x[:, :, :2],
    "dtype": lambda x: x.float(),
    "device": lambda x: x.to("meta"),
    "batch": lambda x: x[:1],
}


@pytest.mark.parametrize("entry, name, mismatch, match", [
    ("overlay", "v2", "shape", r"v2 must match v1 in shape, dtype and device: \(2, 3, 2, 10, 12\)"),
    ("overlay", "v2", "dtype", "v2 must match v1 .* torch.float32 on cpu vs .* torch.uint8 on cpu"),
    ("overlay", "v2", "device", "v2 must match v1 .* on meta vs .* on cpu"),
    ("composite", "source", "dtype", "source must match video: torch.float32 on cpu vs torch.uint8 on cpu"),
    ("composite", "source", "device", "source must match video: torch.uint8 on meta vs torch.uint8 on cpu"),
    ("composite", "source", "batch", r"source must have the video's batch size and channels \(2, 3\), got \(1, 3\)"),
])
def test_second_clip_mismatch(entry, name, mismatch, match):
    args = arguments(entry)
    args[name] = MISMATCHES[mismatch](args[name])
    with pytest.raises(ValueError, match=match):
        call(entry, args)


@pytest.mark.parametrize("entry", ["overlay", "composite"])
@pytest.mark.parametrize("dtype", [torch.bool, torch.int8, torch.int64, torch.float64, torch.complex64])
def test_unsupported_dtype(entry, dtype):
    args = arguments(entry)
    args = {name: value.to(dtype) if name != "tubelets" else value for name, value in args.items()}
    name = "v1" if entry == "overlay" else "video"
    with pytest.raises(TypeError, match=f"^{name}: dtype {dtype} is not supported"):
        call(entry, args)


@pytest.mark.parametrize("backend", cpu_backends())
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("data_format", ["BCTHW", "BTCHW"])
def test_empty_batch_returns_empty_outputs(backend, dtype, data_format):
    v1, v2 = (x.transpose(1, 2) if data_format == "BTCHW" else x for x in clips((0, *SHAPE[1:]), dtype))
    overlay = TubeletOverlay(data_format=data_format, backend=backend)
    q, k, tubes = overlay(v1, v2, return_tubelets=True)
    assert (q.shape, q.dtype, k.shape, k.dtype) == (v1.shape, dtype, v2.shape, dtype)
    assert tubes.inv_affine.shape == (0, 2, SHAPE[2], 2, 3)
    empty = composite(*clips((0, *SHAPE[1:]), dtype), tubes, backend=backend)
    assert empty.shape == (0, *SHAPE[1:]) and empty.dtype == dtype


@pytest.mark.parametrize("data_format", ["BCTHW", "BTCHW"])
@pytest.mark.parametrize("frames, height, width", [(0, 10, 12), (4, 0, 12), (4, 10, 0)])
def test_clips_without_frames_or_pixels_are_refused(data_format, frames, height, width):
    v1 = torch.zeros(2, 3, frames, height, width, dtype=torch.uint8)
    v1 = v1.transpose(1, 2) if data_format == "BTCHW" else v1
    with pytest.raises(ValueError, match=f"v1 must have at least one frame .* got {frames} frames of {height}×{width}"):
        TubeletOverlay(data_format=data_format)(v1)


def first_frame(tubes: Tubelets) -> Tubelets:
    """The tubelets of frame 0 only, as sampled for a single-frame clip (patches cut from frame 0)."""
    timed = ("inv_affine", "opacity", "centers", "angles", "scales", "shears")
    fields = {name: value[:, :, :1] if name in timed else value for name, value in vars(tubes).items()}
    return Tubelets(**{**fields, "src_frame": torch.zeros_like(tubes.src_frame),
                       "motion_keyframes": None, "transform_keyframes": None})


@pytest.mark.parametrize("backend", cpu_backends())
@pytest.mark.parametrize("motion", MOTIONS)
def test_single_frame_clips(backend, motion):
    v1, v2 = clips()
    overlay = TubeletOverlay(motion=motion, transforms=TRANSFORMS, backend=backend)
    tubes = tubelets_for(motion=motion, transforms=TRANSFORMS)
    long = overlay(v1, v2, tubelets=dataclasses.replace(tubes, src_frame=torch.zeros_like(tubes.src_frame)))
    short = overlay(v1[:, :, :1], v2[:, :, :1], tubelets=first_frame(tubes))
    assert not torch.equal(long[0][:, :, 0], v1[:, :, 0])
    assert torch.equal(short[0], long[0][:, :, :1]) and torch.equal(short[1], long[1][:, :, :1])
    sampled = overlay(v1[:, :, :1], v2[:, :, :1], return_tubelets=True)[2]
    assert (sampled.src_frame == 0).all() and sampled.inv_affine.shape[2] == 1


@pytest.mark.parametrize("backend", cpu_backends())
@pytest.mark.parametrize("height, width", [(1, 1), (1, 7), (5, 1), (3, 2)])
def test_frames_smaller_than_the_smallest_patch(backend, height, width):
    """The paper's patches are 16 to 64 px at 112 px: here every crop is at least one pixel."""
    v1, v2 = clips((2, 3, 4, height, width))
    q, k, tubes = TubeletOverlay(backend=backend)(v1, v2, return_tubelets=True)
    x0, y0, x1, y1 = tubes.src_box.unbind(-1)
    assert ((0 <= x0) & (x0 <= x1) & (x1 < width) & (0 <= y0) & (y0 <= y1) & (y1 < height)).all()
    outside = outside_every_patch(tubes, height, width)[:, None].expand_as(v1)
    assert torch.equal(q[outside], v1[outside]) and torch.equal(k[outside], v2[outside])
    if (height, width) == (1, 1):  # every one-pixel patch covers the pixel; the last one painted wins
        last = tubes.src_frame[:, -1].long()
        expected = v1[torch.arange(2), :, last][:, :, None].expand_as(v1)
        assert torch.equal(q, expected) and torch.equal(k, expected)


LAYOUTS = {
    "channels_last_3d": lambda x: x.contiguous(memory_format=torch.channels_last_3d),
    "strided": lambda x: x.repeat_interleave(2, -1)[..., ::2],
    "reversed": lambda x: x.permute(4, 3, 2, 1, 0).contiguous().permute(4, 3, 2, 1, 0),
    "broadcast": lambda x: x[:1].expand_as(x),
}


@pytest.mark.parametrize("backend", cpu_backends())
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_non_contiguous_and_channels_last_inputs_give_the_contiguous_result(backend, dtype, layout):
    v1, v2 = (LAYOUTS[layout](x) for x in clips(dtype=dtype))
    assert not v1.is_contiguous()
    tubes = tubelets_for(transforms=TRANSFORMS)
    overlay = TubeletOverlay(backend=backend)
    q, k = overlay(v1, v2, tubelets=tubes)
    q0, k0 = overlay(v1.contiguous(), v2.contiguous(), tubelets=tubes)
    assert torch.equal(q, q0) and torch.equal(k, k0) and not torch.equal(q0, v1)
    out = composite(v2, v1, tubes, backend=backend)
    assert torch.equal(out, k0)
    if layout == "channels_last_3d":
        assert out.is_contiguous(memory_format=torch.channels_last_3d)


@pytest.mark.parametrize("axis", [0, 2, 4])
def test_negative_strides(axis):
    """Torch has no negative strides: numpy's are refused by torch; the documented copy works."""
    v1, v2 = clips()
    flipped = np.flip(v1.numpy(), axis)
    with pytest.raises(ValueError, match="negative"):
        torch.from_numpy(flipped)
    with pytest.raises(ValueError, match="step must be greater than zero"):
        v1[..., ::-1]
    tubes = tubelets_for()
    q, k = TubeletOverlay()(torch.from_numpy(flipped.copy()), v2, tubelets=tubes)
    q0, k0 = TubeletOverlay()(torch.flip(v1, [axis]), v2, tubelets=tubes)
    assert torch.equal(q, q0) and torch.equal(k, k0)


@pytest.mark.parametrize("backend", cpu_backends())
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("special", [math.nan, math.inf, -math.inf])
def test_non_finite_pixels_outside_the_tubelets_keep_their_values(backend, dtype, special):
    v1, v2 = clips(dtype=dtype)
    generator = torch.Generator().manual_seed(1)
    for clip in (v1, v2):
        clip[torch.rand(clip.shape, generator=generator) < 0.2] = special
    tubes = tubelets_for(num_tubelets=3, transforms=TRANSFORMS, opacity=(0.3, 1.0), softness=(0.0, 0.5))
    q, k = TubeletOverlay(backend=backend)(v1, v2, tubelets=tubes)
    outside = outside_every_patch(tubes, *SHAPE[-2:])[:, None].expand_as(v1)
    torch.testing.assert_close(q[outside], v1[outside], rtol=0, atol=0, equal_nan=True)
    torch.testing.assert_close(k[outside], v2[outside], rtol=0, atol=0, equal_nan=True)
    assert ((k != v2) & k.isfinite() & v2.isfinite()).any()


@pytest.mark.parametrize("field, value, error", [
    ("num_tubelets", -1, ValueError),
    ("num_tubelets", 1.5, ValueError),
    ("patch_size", (-0.1, 0.5), ValueError),
    ("patch_size", (0.0, 0.5), ValueError),
    ("patch_size", (0.6, 0.5), ValueError),
    ("patch_size", (0.5, 1.5), ValueError),
    ("patch_size", 0.5, ValueError),
    ("patch_size", "ab", ValueError),
    ("max_step", (-0.1, 0.5), ValueError),
    ("scale_range", (0.0, 1.0), ValueError),
    ("scale_range", (2.0, 1.0), ValueError),
    ("rotation_range", (-math.inf, 90.0), ValueError),
    ("shear_range", (math.nan, 1.0), ValueError),
    ("motion", "circular", ValueError),
    ("transforms", ("rotation", "flip"), ValueError),
    ("transforms", "rotation", TypeError),
    ("shapes", (), ValueError),
    ("shapes", ("triangle",), ValueError),
    ("shapes", None, TypeError),
    ("keyframes", 1, ValueError),
    ("nonlinear_points", 1, ValueError),
    ("nonlinear_sigma", 0.0, ValueError),
    ("nonlinear_sigma", math.inf, ValueError),
    ("nonlinear_extent", (0.5, 1.5), ValueError),
    ("opacity", (-0.1, 1.0), ValueError),
    ("opacity", (0.5, 1.5), ValueError),
    ("softness", (-1.0, 0.0), ValueError),
    ("p", -0.1, ValueError),
    ("p", 1.5, ValueError),
    ("p", math.nan, ValueError),
    # Values whose compiled maps or parameters would not be finite in float32.
    ("scale_range", (1e-50, 1e-50), ValueError),
    ("scale_range", (1.0, 1e300), ValueError),
    ("rotation_range", (-1e39, 1e39), ValueError),
    ("rotation_range", (1e39, 1e39), ValueError),
    ("shear_range", (1e10, 1e10), ValueError),
    ("softness", (1e39, 1e39), ValueError),
    ("max_step", (0.5, 1e300), ValueError),
    ("nonlinear_points", 10**6, ValueError),
    # Not numbers, or bools and tensors posing as them.
    ("p", True, ValueError),
    ("p", torch.tensor(0.5), ValueError),
    ("num_tubelets", True, ValueError),
    ("num_tubelets", np.float64(2.0), ValueError),
    ("keyframes", "3", ValueError),
    ("nonlinear_sigma", True, ValueError),
    ("patch_size", torch.tensor([0.1, 0.5]), ValueError),
    ("patch_size", np.array([0.1, 0.5]), ValueError),
    ("patch_size", (0.1, 0.2, 0.5), ValueError),
    ("rotation_range", (False, 2.0), ValueError),
    ("opacity", "01", ValueError),
])
def test_config_out_of_range(field, value, error):
    with pytest.raises(error, match=f"^{field}"):
        TubeletOverlay(**{field: value})


@pytest.mark.parametrize("field, value, expected", [
    ("p", np.float32(0.5), 0.5),
    ("p", 1, 1.0),
    ("num_tubelets", np.int64(3), 3),
    ("keyframes", np.int32(4), 4),
    ("nonlinear_points", np.uint8(10), 10),
    ("nonlinear_sigma", np.float64(3.0), 3.0),
    ("patch_size", [0.25, np.float32(0.5)], (0.25, 0.5)),
    ("scale_range", (1, 2), (1.0, 2.0)),
    ("transforms", ["scale", "shear"], ("scale", "shear")),
    ("shapes", np.array(["ellipse"]), ("ellipse",)),
    ("motion", np.str_("linear"), "linear"),
])
def test_config_takes_numpy_scalars_and_sequences_as_plain_values(field, value, expected):
    """Stored as Python ints, floats and tuples, so the frozen config hashes and compares."""
    config = TubeletConfig(**{field: value})
    stored = getattr(config, field)
    assert stored == expected and type(stored) is type(expected)
    assert all(type(v) is type(e) for v, e in zip(stored, expected)) if isinstance(expected, tuple) else True
    assert hash(config) == hash(TubeletConfig(**{field: expected})) and config == TubeletConfig(**{field: expected})


BOUNDS = {  # every (min, max) field at its widest, and a transform that uses it
    "scale": {"scale_range": (1e-3, 1e3)},
    "rotation": {"rotation_range": (-3600.0, 3600.0)},
    "shear": {"shear_range": (-100.0, 100.0)},
}


@pytest.mark.parametrize("sampler", ["torch", "cpu"])
@pytest.mark.parametrize("transforms", [("scale",), ("rotation",), ("shear",), TRANSFORMS])
@pytest.mark.parametrize("motion", MOTIONS)
def test_every_config_the_constructor_takes_paints_with_valid_tubelets(sampler, transforms, motion):
    """The class of ``scale_range=(1e-50, 1e-50)``: at the bounds of every range the sampled
    tubelets pass the op's value checks (finite maps, opacity, softness)."""
    if sampler == "cpu" and "cpu" not in cpu_backends():
        pytest.skip("the C++ backend is not built")
    fields = {key: value for name in transforms for key, value in BOUNDS[name].items()}
    config = TubeletConfig(num_tubelets=4, motion=motion, transforms=transforms, patch_size=(1e-9, 1.0),
                           max_step=(1e-9, 10.0), nonlinear_sigma=1e300, softness=(0.0, 100.0), **fields)
    video, source = clips()
    for seed in range(4):
        tubes = sample_tubelets(config, *SHAPE[:1], *SHAPE[2:], seed=torch.tensor(seed), backend=sampler)
        for name in ("inv_affine", "centers", "angles", "scales", "shears", "softness", "opacity"):
            assert getattr(tubes, name).isfinite().all(), name
        composite(video, source, tubes, validate=True)


def test_keyframes_beyond_the_frames_cost_nothing():
    """A path has ``min(keyframes, frames)`` keyframes: 10⁹ samples like ``frames``."""
    for sampler in ["torch", *(["cpu"] if "cpu" in cpu_backends() else [])]:
        huge, exact = (sample_tubelets(TubeletConfig(motion="linear", keyframes=k), 2, 4, 10, 12,
                                       seed=torch.tensor(7), backend=sampler) for k in (10**9, 4))
        for field in dataclasses.fields(Tubelets):
            assert torch.equal(getattr(huge, field.name), getattr(exact, field.name)), (sampler, field.name)


@pytest.mark.parametrize("kwargs, match", [
    ({"data_format": "NCTHW"}, "data_format: unknown 'NCTHW'; choose from BCTHW, BTCHW"),
    ({"backend": "gpu"}, "backend: unknown 'gpu'"),
    ({"config": TubeletConfig(), "motion": "linear"}, "give either config or its fields"),
])
def test_overlay_arguments_out_of_range(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TubeletOverlay(**kwargs)


REPLAYS = {
    "batch": lambda t: tubelets_for((3, *SHAPE[1:])),
    "frames": lambda t: tubelets_for((2, 3, 5, 10, 12)),
    "device": lambda t: t.to("meta"),
    "field device": lambda t: dataclasses.replace(t, opacity=t.opacity.to("meta")),
    "field shape": lambda t: dataclasses.replace(t, src_box=t.src_box[:, :1]),
    "larger frame": lambda t: tubelets_for((2, 3, 4, 112, 112)),
}


@pytest.mark.parametrize("entry", ["overlay", "composite"])
@pytest.mark.parametrize("replay, match", [
    ("batch", "tubelets were sampled for 3 clips of 4 frames; the video has 2 clips of 4 frames"),
    ("frames", "tubelets were sampled for 2 clips of 5 frames; the video has 2 clips of 4 frames"),
    ("device", r"tubelets are on meta but the video is on cpu; use tubelets.to\(video.device\)"),
    ("field device", "tubelets.opacity is on meta, the video on cpu"),
    ("field shape", r"tubelets.src_box must have shape \(2, 2, 4\) on cpu, got \(2, 1, 4\) on cpu"),
    ("larger frame", "tubelets.src_box must be non-empty crops inside the 12×10 source"),
])
def test_replayed_tubelets_from_another_batch_device_or_frame_size(entry, replay, match):
    args = arguments(entry)
    args["tubelets"] = REPLAYS[replay](args["tubelets"])
    with pytest.raises(ValueError, match=match):
        call(entry, args)


MALFORMED = {
    "3×3 maps": (lambda t: dataclasses.replace(t, inv_affine=torch.zeros(2, 2, 4, 3, 3)), ValueError,
                 r"tubelets.inv_affine must have shape \(2, 2, 4, 2, 3\) on cpu, got \(2, 2, 4, 3, 3\)"),
    "opacity per pixel": (lambda t: dataclasses.replace(t, opacity=t.opacity[..., None]), ValueError,
                          r"tubelets.opacity must have shape \(2, 2, 4\)"),
    "list opacity": (lambda t: dataclasses.replace(t, opacity=t.opacity.tolist()), TypeError,
                     "tubelets.opacity must be a torch.Tensor, got list"),
    "list centres": (lambda t: dataclasses.replace(t, centers=t.centers.tolist()), TypeError,
                     "tubelets.centers must be a torch.Tensor, got list"),
    "numpy boxes": (lambda t: dataclasses.replace(t, src_box=t.src_box.numpy()), TypeError,
                    "tubelets.src_box must be a torch.Tensor, got ndarray"),
    "complex maps": (lambda t: dataclasses.replace(t, inv_affine=t.inv_affine + 1j), TypeError,
                     r"tubelets.inv_affine must be a real floating-point \(float32\) tensor, got torch.complex64"),
    "integer opacity": (lambda t: dataclasses.replace(t, opacity=t.opacity.long()), TypeError,
                        "tubelets.opacity must be a real floating-point"),
    "float boxes": (lambda t: dataclasses.replace(t, src_box=t.src_box + 0.7), TypeError,
                    r"tubelets.src_box must be an integer \(int32\) tensor, got torch.float32"),
    "bool shapes": (lambda t: dataclasses.replace(t, shape=t.shape > 0), TypeError,
                    "tubelets.shape must be an integer"),
    "int64 boxes past 2**31": (lambda t: dataclasses.replace(t, src_box=t.src_box.long() + 2**32), ValueError,
                               "tubelets.src_box must be non-empty crops inside the 12×10 source"),
    "int64 frames past 2**31": (lambda t: dataclasses.replace(t, src_frame=t.src_frame.long() + 2**32), ValueError,
                                r"tubelets.src_frame must lie in \[0, 4\)"),
    "int64 shapes below -2**31": (lambda t: dataclasses.replace(t, shape=t.shape.long() - 2**32), ValueError,
                                  "tubelets.shape must index"),
}


@pytest.mark.parametrize("entry", ["overlay", "composite"])
@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_replayed_tubelets_are_refused_naming_the_field(entry, case):
    malform, error, match = MALFORMED[case]
    args = arguments(entry)
    args["tubelets"] = malform(args["tubelets"])
    with pytest.raises(error, match=match):
        call(entry, args)


# Values no check lets through, by the check that refuses them (the order of
# ops.value_checks): (field, flat index, value).
INVALID_VALUES = {
    0: [("inv_affine", 7, math.nan), ("inv_affine", 0, math.inf), ("inv_affine", -1, -math.inf)],
    1: [("opacity", 3, -0.01), ("opacity", -1, 1.01), ("opacity", 0, math.nan)],
    2: [("softness", 1, math.nan), ("softness", 0, math.inf), ("softness", -1, -0.5)],
    3: [("shape", 0, -1), ("shape", -1, 4), ("shape", 2, 2**31 - 1)],
    4: [("src_frame", 3, -1), ("src_frame", 0, 4)],
    5: [("src_box", 0, -1), ("src_box", 1, -3), ("src_box", 2, 12), ("src_box", 7, 10), ("src_box", 4, 11),
        ("src_box", 5, 2**31 - 1)],  # x0, y0 < 0; x1 = W, y1 = H; x0 past a narrow box's x1; y0 past y1
}
FAULTS = [(check, *fault) for check, faults in INVALID_VALUES.items() for fault in faults]


def with_values(tubes: Tubelets, faults) -> Tubelets:
    """``tubes`` with each ``(check, field, flat index, value)`` of ``faults`` written in."""
    fields = {}
    for _, field, index, value in faults:
        tensor = fields.get(field, getattr(tubes, field).clone())
        tensor.view(-1)[index] = value
        fields[field] = tensor
    return dataclasses.replace(tubes, **fields)


def narrow_boxes(tubes: Tubelets) -> Tubelets:
    """Every crop 3 px wide and tall at (8, 6), so that moving one edge can empty it."""
    return dataclasses.replace(tubes, src_box=torch.tensor([8, 6, 10, 8], dtype=torch.int32).expand_as(tubes.src_box).clone())


@pytest.mark.parametrize("entry", ["overlay", "composite"])
@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f"{f[1]}[{f[2]}]={f[3]}")
def test_replayed_values_out_of_range_are_refused_naming_the_field(entry, fault):
    args = arguments(entry)
    args["tubelets"] = with_values(narrow_boxes(args["tubelets"]), [fault])
    message = ops.value_checks(*SHAPE[2:])[fault[0]]
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        call(entry, args)


@pytest.mark.skipif(native._C is None, reason=f"{native.CPU_UNAVAILABLE}")
@given(st.lists(st.sampled_from(FAULTS), max_size=4))
def test_both_value_checks_report_the_first_check_that_fails(faults):
    """The C++ pass (csrc/value_checks.h) and the tensor ops agree, on no fault or several."""
    video, source = clips()
    tubes = with_values(narrow_boxes(tubelets_for()), faults)
    parameters = (tubes.inv_affine, tubes.opacity, tubes.src_box, tubes.src_frame, tubes.shape, tubes.softness)
    expected = min((fault[0] for fault in faults), default=None)
    assert native.checks_values(*parameters)
    assert native.failed_value_check(source, *parameters) == expected
    assert ops._failed_value_check(source, *parameters) == expected


@pytest.mark.parametrize("backend", cpu_backends())
def test_replayed_tubelets_of_wider_dtypes_paint_like_the_documented_ones(backend):
    """int64 indices within int32 and float64 parameters are converted, not refused."""
    video, source = clips(dtype=torch.float32)
    tubes = tubelets_for(num_tubelets=3, transforms=TRANSFORMS, opacity=(0.2, 1.0), softness=(0.0, 0.5))
    wide = dataclasses.replace(
        tubes, inv_affine=tubes.inv_affine.double(), opacity=tubes.opacity.double(), softness=tubes.softness.double(),
        src_box=tubes.src_box.long(), src_frame=tubes.src_frame.short(), shape=tubes.shape.to(torch.uint8))
    expected = composite(video, source, tubes, backend=backend)
    assert not torch.equal(expected, video)
    assert torch.equal(composite(video, source, wide, backend=backend), expected)


@pytest.mark.parametrize("entry, name, value, match", [
    ("overlay", "v1", [[0]], "v1 must be a torch.Tensor, got list"),
    ("overlay", "v1", np.zeros(SHAPE, np.uint8), "v1 must be a torch.Tensor, got ndarray"),
    ("overlay", "v2", 3, "v2 must be a torch.Tensor, got int"),
    ("overlay", "tubelets", {}, "tubelets must be a Tubelets, got dict"),
    ("composite", "video", np.zeros(SHAPE, np.uint8), "video must be a torch.Tensor, got ndarray"),
    ("composite", "source", 0.5, "source must be a torch.Tensor, got float"),
    ("composite", "tubelets", None, "tubelets must be a Tubelets, got NoneType"),
    ("composite", "out", [0], "out must be a torch.Tensor or None, got list"),
])
def test_non_tensor_arguments(entry, name, value, match):
    args = arguments(entry)
    args[name] = value
    with pytest.raises(TypeError, match=match):
        call(entry, args)


@pytest.mark.parametrize("generator", [42, "seed", random.Random(0), np.random.default_rng(0)])
def test_generator_of_the_wrong_type(generator):
    v1, v2 = clips()
    with pytest.raises(TypeError, match=f"generator must be a torch.Generator or None, got {type(generator).__name__}"):
        TubeletOverlay()(v1, v2, generator=generator)


FALLBACK = """
import sys, warnings
sys.modules["tubelets._C"] = None  # as if it was not built
import torch
from tubelets import TubeletOverlay
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    overlay = TubeletOverlay()
    for _ in range(3):
        overlay(torch.zeros(1, 3, 2, 8, 8, dtype=torch.uint8))
print(len(caught))
for warning in caught:
    print(warning.category.__name__, warning.message)
"""


def test_auto_warns_once_when_it_falls_back_to_the_reference():
    """Without the C++ backend, ``auto`` runs the reference: one warning with the reason and
    where to look, not one per call, and none with the backend built."""
    child = run_python(FALLBACK)
    assert child.returncode == 0, child.stderr
    lines = child.stdout.splitlines()
    assert lines[0] == "1", child.stdout
    assert lines[1].startswith("RuntimeWarning tubelets: backend 'auto' paints cpu tensors with the reference")
    assert "tubelets._C was not built" in lines[1] and "`tubelets info`" in lines[1]
    built = run_python(FALLBACK.replace('sys.modules["tubelets._C"] = None', "pass"))
    assert built.returncode == 0 and built.stdout.splitlines()[0] == "0", built.stdout + built.stderr


def test_paint_refuses_videos_with_fewer_dimensions():
    """A (B, C, T) video whose leading sizes agree with the source's is still not a video."""
    source = clips()[0]
    flat = torch.zeros(source.shape[:3], dtype=source.dtype)
    with pytest.raises(ValueError, match=r"^video must have shape \(B, C, T, H, W\)"):
        ops.paint_([flat.clone()], [flat], source, tubelets_for())
