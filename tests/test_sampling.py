"""The samplers: Philox4x32-10 against its published answers, the C++ sampler against the
PyTorch reference, and what the counter-based design promises."""
import dataclasses

import numpy as np
import pytest
import torch

from tubelets import TubeletConfig, TubeletOverlay, Tubelets, native, ops, sample_tubelets
from tubelets.philox import philox4x32
from tubelets.profiling import count_dispatches

NEEDS_C = pytest.mark.skipif(native._C is None, reason=f"{native.CPU_UNAVAILABLE}")

# Known answers of Philox4x32-10 from its authors' Random123 distribution (kat_vectors):
# (counter, key) -> output.
PHILOX_KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]

CONFIGS = [
    TubeletConfig(),
    TubeletConfig(motion="linear", transforms=("scale", "rotation", "shear"), keyframes=4),
    TubeletConfig(motion="static", num_tubelets=5, p=0.5, shapes=("ellipse", "rhombus"), softness=(0.0, 0.4),
                  opacity=(0.3, 1.0)),
    TubeletConfig(num_tubelets=0),
    TubeletConfig(nonlinear_points=2, nonlinear_sigma=0.5, patch_size=(0.9, 1.0)),
    # Per-sample controls: drawn counts, one clip's tubelets for all, eased keyframes.
    TubeletConfig(motion="linear", num_tubelets=(0, 5), interpolation="random", transforms=("scale", "rotation", "shear")),
    TubeletConfig(motion="linear", num_tubelets=(2, 3), same_on_batch=True, interpolation="accelerate", p=0.5),
    TubeletConfig(num_tubelets=(1, 1), interpolation="decelerate", transforms=("shear",)),
    # The presets, and the fields that express the released code in other combinations.
    TubeletConfig.paper_linear(),
    TubeletConfig.official_code(),
    TubeletConfig(motion="linear", transforms=("rotation", "scale"), keyframes=4, rotation_step=2.5,
                  opacity_keyframes=True, opacity=(0.2, 0.9), patch_scales=(0.3, 0.5), patch_ratios=(0.8,),
                  softness=(0.0, 1.0), softness_p=0.3, interpolation="decelerate"),
]
SIZES = [(16, 112, 112), (1, 7, 9), (2, 30, 17), (33, 1, 1), (5, 224, 160)]


@pytest.mark.parametrize("counter, key, expected", PHILOX_KAT)
def test_philox_matches_the_published_answers(counter, key, expected):
    words = philox4x32(tuple(map(torch.tensor, counter)), tuple(map(torch.tensor, key)))
    assert tuple(int(w) for w in words) == expected


def fields(tubes):
    return {f.name: getattr(tubes, f.name) for f in dataclasses.fields(tubes)}


@NEEDS_C
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.motion}-M{c.num_tubelets}-{c.interpolation}")
@pytest.mark.parametrize("size", SIZES, ids=str)
@pytest.mark.parametrize("seed", [0, 1, 2**62 + 12345])
def test_cpp_sampler_matches_the_reference(config, size, seed):
    """Every field; integers exactly, positions within 1e-5 px (both work in float64)."""
    seed = torch.tensor(seed)
    reference = sample_tubelets(config, 6, *size, seed=seed, backend="torch")
    native_ = sample_tubelets(config, 6, *size, seed=seed, backend="cpu")
    for name, expected in fields(reference).items():
        actual = fields(native_)[name]
        if expected is None:
            assert actual is None, name
            continue
        assert actual.shape == expected.shape and actual.dtype == expected.dtype, name
        if expected.dtype.is_floating_point:
            torch.testing.assert_close(actual, expected, rtol=0, atol=1e-5, msg=name)
        else:
            assert torch.equal(actual, expected), name


@pytest.mark.parametrize("backend", ["torch", pytest.param("cpu", marks=NEEDS_C)])
def test_a_clips_tubelets_do_not_depend_on_the_batch_size(backend):
    config = TubeletConfig(motion="linear", transforms=("rotation", "scale"))
    seed = torch.tensor(7)
    small = sample_tubelets(config, 2, 8, 40, 52, seed=seed, backend=backend)
    large = sample_tubelets(config, 9, 8, 40, 52, seed=seed, backend=backend)
    for name, value in fields(small).items():
        assert torch.equal(fields(large)[name][:2], value), name
    other = sample_tubelets(config, 2, 8, 40, 52, seed=torch.tensor(8), backend=backend)
    assert not torch.equal(other.centers, small.centers)


def test_the_generator_draws_the_seed():
    config = TubeletConfig()
    a = sample_tubelets(config, 3, 8, 40, 52, generator=torch.Generator().manual_seed(5))
    b = sample_tubelets(config, 3, 8, 40, 52, generator=torch.Generator().manual_seed(5))
    c = sample_tubelets(config, 3, 8, 40, 52, generator=torch.Generator().manual_seed(6))
    assert torch.equal(a.inv_affine, b.inv_affine) and not torch.equal(a.inv_affine, c.inv_affine)


@pytest.mark.parametrize("backend", ["torch", pytest.param("cpu", marks=NEEDS_C)])
@pytest.mark.parametrize("sizes, name", [
    ((2, 0, 8, 8), "frames"), ((2, 4, 0, 8), "height"), ((2, 4, 8, 0), "width"), ((-1, 4, 8, 8), "batch_size"),
    ((2, 4, -3, 8), "height"), ((2, 4, 8, 5.5), "width"), ((2, 4.0, 8, 8), "frames"), ((True, 4, 8, 8), "batch_size"),
    ((2, 4, "8", 8), "height"), ((2, 4, 8, torch.tensor(8)), "width"),
])
def test_empty_frames_are_refused_naming_the_argument(backend, sizes, name):
    with pytest.raises(ValueError, match=f"^{name} must be an integer >= "):
        sample_tubelets(TubeletConfig(), *sizes, backend=backend)


@pytest.mark.parametrize("backend", ["torch", pytest.param("cpu", marks=NEEDS_C)])
def test_numpy_sizes_sample_like_python_ints(backend):
    sizes = (np.int64(2), np.int32(4), np.uint16(10), np.int8(12))
    a, b = (sample_tubelets(TubeletConfig(), *size, seed=torch.tensor(1), backend=backend)
            for size in (sizes, (2, 4, 10, 12)))
    assert all(torch.equal(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(Tubelets)
               if getattr(b, f.name) is not None)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"config": None}, TypeError, "config must be a TubeletConfig, got NoneType"),
    ({"config": {"num_tubelets": 2}}, TypeError, "config must be a TubeletConfig, got dict"),
    ({"seed": 5}, ValueError, "seed must be a 0-dim int64 tensor, got 5"),
    ({"seed": torch.tensor([5])}, ValueError, "seed must be a 0-dim int64 tensor"),
    ({"seed": torch.tensor(5.0)}, ValueError, "seed must be a 0-dim int64 tensor"),
    ({"generator": 5}, TypeError, "generator must be a torch.Generator or None, got int"),
])
def test_sampler_arguments_of_the_wrong_type_are_refused_by_name(kwargs, error, match):
    arguments = {"config": TubeletConfig(), **kwargs}
    with pytest.raises(error, match=match):
        sample_tubelets(arguments.pop("config"), 2, 4, 10, 12, **arguments)


@NEEDS_C
def test_many_keyframes_are_as_many_as_frames_in_cpp_too():
    """K = 100 on 16 frames uses 16 keyframes; the C++ sampler holds up to 64 on its stack."""
    config = TubeletConfig(motion="linear", keyframes=100)
    reference, native_ = (sample_tubelets(config, 2, 16, 20, 20, seed=torch.tensor(3), backend=b) for b in ("torch", "cpu"))
    assert native_.transform_keyframes.shape == (2, 2, 16)
    assert torch.equal(native_.motion_keyframes, reference.motion_keyframes)


def test_unknown_or_unusable_samplers_are_refused():
    with pytest.raises(ValueError, match="backend: unknown sampler 'gpu'"):
        sample_tubelets(TubeletConfig(), 1, 2, 8, 8, backend="gpu")
    with pytest.raises(RuntimeError, match="sampler 'cpu' cannot sample on meta"):
        sample_tubelets(TubeletConfig(), 1, 2, 8, 8, device="meta", seed=torch.tensor(1, device="meta"),
                        backend="cpu")


@NEEDS_C
@pytest.mark.parametrize("batch", [1, 32])
@pytest.mark.parametrize("pair", [True, False])
@pytest.mark.parametrize("inplace", [False, True], ids=["new outputs", "inplace"])
def test_an_overlay_call_dispatches_few_ops_and_never_syncs(batch, pair, inplace):
    """Issue 8: at most 12 kernel-like ops and 0 host syncs per call with sampled tubelets."""
    overlay = TubeletOverlay(backend="cpu", inplace=inplace)
    v1, v2 = (torch.randint(0, 256, (batch, 3, 16, 112, 112), dtype=torch.uint8) for _ in range(2))
    call = (lambda: overlay(v1, v2)) if pair else (lambda: overlay(v1))
    call()
    counts = count_dispatches(call)
    assert counts.kernels <= 12 and counts.syncs == 0, str(counts)


def test_the_sync_counter_can_fail():
    """count_dispatches sees a host read and counts the ops around it."""
    counts = count_dispatches(lambda: bool((torch.arange(3) > 1).any()))
    assert counts.syncs == 1 and counts.kernels >= 3, str(counts)


@NEEDS_C
def test_replayed_tubelets_are_validated_without_tensor_ops_on_cpu():
    """The C++ value checks: a replayed call costs what a sampled one does, less sampling."""
    overlay = TubeletOverlay(backend="cpu")
    v1 = torch.randint(0, 256, (2, 3, 4, 20, 24), dtype=torch.uint8)
    _, tubes = overlay(v1, return_tubelets=True)
    counts = count_dispatches(lambda: overlay(v1, tubelets=tubes))
    assert counts.kernels <= 12 and counts.syncs == 0, str(counts)


def test_the_tensor_value_checks_read_the_host_once():
    """Off the CPU the checks are tensor ops on the device, read by the host in one go."""
    v1 = torch.randint(0, 256, (2, 3, 4, 20, 24), dtype=torch.uint8)
    tubes = sample_tubelets(TubeletConfig(), 2, 4, 20, 24, generator=torch.Generator().manual_seed(0))
    parameters = (tubes.inv_affine, tubes.opacity, tubes.src_box, tubes.src_frame, tubes.shape, tubes.softness)
    assert count_dispatches(lambda: ops._failed_value_check(v1, *parameters)).syncs == 1
