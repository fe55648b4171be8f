"""Per-sample controls of the samplers (drawn tubelet counts, ``same_on_batch``, eased
keyframes): what they promise, checked on the reference and the C++ sampler. That the
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
