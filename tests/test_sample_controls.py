"""Per-sample controls (drawn tubelet counts, ``same_on_batch``, eased keyframes) and the
presets: what they promise, checked on the reference and the C++ sampler. That the
samplers agree on them is tests/test_sampling.py's and tests/test_triton_sampler.py's."""
import dataclasses

import pytest
import torch

from tubelets import TubeletConfig, native, sample_tubelets

BACKENDS = ["torch", pytest.param("cpu", marks=pytest.mark.skipif(native._C is None, reason=f"{native.CPU_UNAVAILABLE}"))]


def fields(tubes):
    return {f.name: getattr(tubes, f.name) for f in dataclasses.fields(tubes) if getattr(tubes, f.name) is not None}


@pytest.mark.parametrize("backend", BACKENDS)
def test_drawn_counts_cover_low_to_high_and_only_those_slots_are_painted(backend):
    config = TubeletConfig(num_tubelets=(1, 4), opacity=(0.5, 1.0))
    tubes = sample_tubelets(config, 400, 4, 24, 24, seed=torch.tensor(11), backend=backend)
    assert tubes.num_tubelets == 4
    counts = tubes.painted().sum(1)
    histogram = torch.bincount(counts, minlength=5)
    assert histogram[0] == 0 and (histogram[1:] > 60).all(), histogram  # about 100 each
    # A slot is painted in every frame or in none.
    opacity = tubes.opacity
    assert torch.equal((opacity > 0).all(-1), (opacity > 0).any(-1))


@pytest.mark.parametrize("backend", BACKENDS)
def test_painted_slots_are_not_the_largest_ones(backend):
    """The slots kept are those drawn first, not the first in paint order: the smallest
    patches are painted too (the last slot of a clip with 4 tubelets painted)."""
    config = TubeletConfig(num_tubelets=(1, 4))
    tubes = sample_tubelets(config, 400, 4, 24, 24, seed=torch.tensor(12), backend=backend)
    painted = tubes.painted()
    assert painted[:, -1].any() and not painted[:, 0].all()


def test_an_int_count_is_the_pair_of_it():
    seed = torch.tensor(3)
    a, b = (sample_tubelets(TubeletConfig(num_tubelets=n), 3, 6, 20, 20, seed=seed, backend="torch") for n in (3, (3, 3)))
    assert a == b and a.painted().all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_same_on_batch_gives_every_clip_the_tubelets_of_a_batch_of_one(backend):
    config = TubeletConfig(same_on_batch=True, num_tubelets=(1, 3), motion="linear", transforms=("rotation", "scale"))
    seed = torch.tensor(21)
    batch = sample_tubelets(config, 5, 8, 30, 40, seed=seed, backend=backend)
    one = sample_tubelets(config, 1, 8, 30, 40, seed=seed, backend=backend)
    for name, value in fields(batch).items():
        assert value.shape[0] == 5 and torch.equal(value, fields(one)[name].expand_as(value)), name
    independent = sample_tubelets(dataclasses.replace(config, same_on_batch=False), 5, 8, 30, 40, seed=seed,
                                  backend=backend)
    assert torch.equal(independent.centers[:1], one.centers) and not torch.equal(independent.centers[1], one.centers[0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_accelerate_lies_below_linear_and_decelerate_above_at_mid_segment(backend):
    """With 2 keyframes (frames 0 and T-1) and a rotation from 0: at the middle frame the
    angle is a quarter of the end's accelerating, half linearly, three quarters decelerating."""
    seed, frames, middle = torch.tensor(5), 9, 4
    angles = {}
    for name in ("linear", "accelerate", "decelerate"):
        config = TubeletConfig(keyframes=2, interpolation=name, rotation_range=(10.0, 80.0))
        angles[name] = sample_tubelets(config, 8, frames, 30, 30, seed=seed, backend=backend).angles.double()
    end = angles["linear"][..., -1]
    assert torch.equal(angles["accelerate"][..., -1], end.float().double())
    torch.testing.assert_close(angles["linear"][..., middle], end / 2, rtol=0, atol=1e-4)
    torch.testing.assert_close(angles["accelerate"][..., middle], end / 4, rtol=0, atol=1e-4)
    torch.testing.assert_close(angles["decelerate"][..., middle], end * 3 / 4, rtol=0, atol=1e-4)
    assert (angles["accelerate"][..., 1:-1] < angles["linear"][..., 1:-1]).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_random_interpolation_draws_each_of_the_three(backend):
    """Each tubelet's mid-segment angle, as a fraction of its end, is 1/4, 1/2 or 3/4, and
    each of the three occurs about a third of the time."""
    config = TubeletConfig(keyframes=2, interpolation="random", rotation_range=(10.0, 80.0))
    angles = sample_tubelets(config, 300, 9, 30, 30, seed=torch.tensor(6), backend=backend).angles.double()
    fraction = (angles[..., 4] / angles[..., -1]).flatten()
    kinds = torch.stack([(fraction - f).abs() < 1e-4 for f in (0.25, 0.5, 0.75)])
    assert kinds.any(0).all()
    assert (kinds.sum(1) > 150).all(), kinds.sum(1)  # of 600, about 200 each


@pytest.mark.parametrize("backend", BACKENDS)
def test_eased_linear_paths_start_slowly_when_accelerating(backend):
    seed = torch.tensor(8)
    paths = {name: sample_tubelets(TubeletConfig(motion="linear", keyframes=2, interpolation=name, transforms=()),
                                   16, 9, 64, 64, seed=seed, backend=backend).centers.double()
             for name in ("linear", "accelerate")}
    first_step = {name: (path[..., 1, :] - path[..., 0, :]).norm(dim=-1) for name, path in paths.items()}
    moving = first_step["linear"] > 2
    assert moving.any() and (first_step["accelerate"][moving] < first_step["linear"][moving]).all()


@pytest.mark.parametrize("kwargs, error, match", [
    ({"num_tubelets": (3, 1)}, ValueError, "^num_tubelets: low 3 is larger than high 1"),
    ({"num_tubelets": (-1, 2)}, ValueError, "^num_tubelets must be an integer >= 0"),
    ({"num_tubelets": (1, 2, 3)}, ValueError, "^num_tubelets must be an integer >= 0 or a \\(low, high\\) pair"),
    ({"num_tubelets": (1.5, 2)}, ValueError, "^num_tubelets must be an integer"),
    ({"num_tubelets": True}, ValueError, "^num_tubelets must be an integer"),
    ({"same_on_batch": 1}, TypeError, "^same_on_batch must be True or False, got 1"),
    ({"interpolation": "cubic"}, ValueError, "^interpolation: unknown value 'cubic'; choose from linear, accelerate"),
])
def test_invalid_controls_are_refused_naming_the_field(kwargs, error, match):
    with pytest.raises(error, match=match):
        TubeletConfig(**kwargs)


def test_counts_are_stored_as_ints():
    config = TubeletConfig(num_tubelets=[1, 3])
    assert config.num_tubelets == (1, 3) and config.tubelet_counts == (1, 3) and config.max_tubelets == 3
    assert TubeletConfig(num_tubelets=2).tubelet_counts == (2, 2)


# The presets. The expected numbers are the released code's (configs/moco/r2plus1d_18/
# pretraining_mini_kinetics.py and pyvrl/models/pretraining/tubeletcontrast/tubelets.py), at 112 px.
OFFICIAL = TubeletConfig.official_code()


@pytest.fixture(scope="module", params=BACKENDS)
def official(request):
    return sample_tubelets(OFFICIAL, 500, 16, 112, 112, seed=torch.tensor(31), backend=request.param)


def test_official_opacity_is_keyframed_in_0_8_to_1(official):
    opacity = official.opacity
    assert opacity.min() >= 0.8 - 1e-6 and opacity.max() <= 1.0 + 1e-6
    assert (opacity.amax(-1) - opacity.amin(-1) > 0.01).float().mean() > 0.5  # it changes over time


def test_official_edges_are_soft_for_about_half_the_patches(official):
    softness = official.softness.flatten()
    soft = softness > 0
    assert 0.45 < soft.float().mean() < 0.55, soft.float().mean()
    assert softness[soft].min() >= 0.1 - 1e-6 and softness[soft].max() <= 0.4 + 1e-6


def test_official_rotation_walks_at_most_6_degrees_a_frame_between_keyframes(official):
    angles, times = official.angles.double(), official.transform_keyframes
    assert (angles[..., 0] == 0).all()
    at = angles.gather(-1, times)
    change, gaps = at[..., 1:] - at[..., :-1], (times[..., 1:] - times[..., :-1]).double()
    assert (change.abs() <= 6 * gaps + 1e-4).all()
    assert (change.abs() > 3 * gaps).any()  # the walk uses its range
    assert official.angles.abs().max() <= 6 * 15 + 1e-4


def test_official_patch_sizes_are_scales_times_aspect_ratios_jittered(official):
    width, height = official.patch_size.double().unbind(-1)
    jitter = torch.tensor(0.18).exp().item()
    ratio, scale = width / height, (width * height).sqrt()
    # Rounding to whole pixels moves a side by at most half a pixel.
    assert (ratio <= 2.0 * jitter**2 * (1 + 0.5 / 10)).all() and (ratio >= 0.5 / jitter**2 / (1 + 0.5 / 10)).all()
    assert scale.min() >= 16 / jitter - 0.5 and scale.max() <= 64 * jitter + 0.5
    assert ((ratio - 1).abs() > 0.3).float().mean() > 0.3  # not square, unlike patch_size's draws per axis


def test_official_paths_are_stretched_alike_on_both_axes_to_20_to_89_px(official):
    span = official.centers.double().amax(2) - official.centers.double().amin(2)  # (B, M, 2)
    # Snapping centres to the crop's pixel grid moves each by at most half a pixel.
    assert ((span[..., 0] - span[..., 1]).abs() <= 1 + 1e-4).all()
    assert span.min() >= 20 - 1 - 1e-4 and span.max() <= 89 + 1 + 1e-4


def test_paper_linear_moves_along_keyframes_without_transforms():
    config = TubeletConfig.paper_linear()
    assert config.motion == "linear" and config.transforms == () and config.keyframes == 3
    tubes = sample_tubelets(config, 8, 16, 112, 112, seed=torch.tensor(2), backend="torch")
    assert (tubes.angles == 0).all() and (tubes.scales == 1).all() and tubes.motion_keyframes.shape[-1] == 3
    assert TubeletConfig.paper() == TubeletConfig()


@pytest.mark.parametrize("kwargs, error, match", [
    ({"patch_scales": (0.2, 0.0)}, ValueError, "^patch_scales: every value must lie in \\(0.0, 1.0\\]"),
    ({"patch_scales": 0.2}, ValueError, "^patch_scales must be a tuple of numbers, got 0.2"),
    ({"patch_ratios": ()}, ValueError, "^patch_ratios: give at least one aspect ratio"),
    ({"patch_ratios": (-1.0,)}, ValueError, "^patch_ratios: every value must lie in"),
    ({"patch_jitter": 6.0}, ValueError, "^patch_jitter must be a number in \\[0, 5\\], got 6.0"),
    ({"softness_p": 1.5}, ValueError, "^softness_p must be a probability in \\[0, 1\\], got 1.5"),
    ({"opacity_keyframes": "yes"}, TypeError, "^opacity_keyframes must be True or False, got 'yes'"),
    ({"nonlinear_square": 0}, TypeError, "^nonlinear_square must be True or False, got 0"),
    ({"rotation_step": -1.0}, ValueError, "^rotation_step must be None or degrees per frame in \\[0, 360\\]"),
    ({"rotation_step": "6"}, ValueError, "^rotation_step must be None or degrees per frame"),
])
def test_invalid_official_fields_are_refused_naming_the_field(kwargs, error, match):
    with pytest.raises(error, match=match):
        TubeletConfig(**kwargs)
