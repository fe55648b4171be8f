"""`tubelets::paint_` as a PyTorch custom op: opcheck, torch.compile and backend choice."""
import dataclasses

import pytest
import torch

from helpers import cpu_backends
from tubelets import TubeletOverlay, composite, ops, sample_tubelets


def example(dtype=torch.uint8, batch=2, frames=4, height=20, width=24, seed=0):
    generator = torch.Generator().manual_seed(seed)
    shape = (batch, 3, frames, height, width)
    v1, v2 = (torch.randint(0, 256, shape, generator=generator).to(dtype) for _ in range(2))
    overlay = TubeletOverlay(transforms=("rotation", "scale"))
    tubes = sample_tubelets(overlay.config, batch, frames, height, width, generator=generator)
    return v1, v2, tubes


@pytest.mark.parametrize("backend", cpu_backends())
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_opcheck(backend, dtype):
    v1, v2, tubes = example(dtype)
    params = (tubes.inv_affine, tubes.opacity, tubes.src_box, tubes.src_frame, tubes.shape, tubes.softness)
    masks = torch.empty(v1.shape[0], *v1.shape[2:], dtype=torch.int8)
    out_of_place = ([torch.empty_like(v1), torch.empty_like(v2)], [v1, v2], v1, *params, None, False, backend, True)
    in_place = ([v2.clone()], [], v1, *params, None, False, backend, False)
    with_masks = ([torch.empty_like(v1)], [v1], v1, *params, masks, False, backend, True)
    only_masks = ([], [], v1, *params, masks.clone(), False, backend, True)
    for args in (out_of_place, in_place, with_masks, only_masks):
        torch.library.opcheck(torch.ops.tubelets.paint_.default, args)


def test_sampler_opcheck():
    from tubelets import TubeletConfig, native
    if native._C is None:
        pytest.skip(native.CPU_UNAVAILABLE)
    seed = torch.tensor(12345, dtype=torch.int64)
    configs = [TubeletConfig(motion=motion, transforms=("rotation", "scale"), patch_size=(0.1, 0.5))
               for motion in ("static", "linear", "nonlinear")]
    configs += [TubeletConfig.official_code(), TubeletConfig(num_tubelets=(1, 3), same_on_batch=True,
                                                             interpolation="random", motion="linear")]
    for config in configs:
        count = config.tubelet_counts[1]
        args = (seed, [2, count, 5, 20, 24], *native._config_arguments(config))
        torch.library.opcheck(torch.ops.tubelets.sample.default, args)


@pytest.mark.parametrize("backend", cpu_backends())
def test_compositing_compiles_with_fullgraph(backend):
    v1, v2, tubes = example()
    overlay = TubeletOverlay(backend=backend)

    def pair(a, b, inv_affine, opacity):
        replay = dataclasses.replace(tubes, inv_affine=inv_affine, opacity=opacity)  # torch 2.8 cannot trace vars()
        return overlay(a, b, tubelets=replay)

    compiled = torch.compile(pair, fullgraph=True, backend="aot_eager")
    expected = overlay(v1, v2, tubelets=tubes)
    got = compiled(v1, v2, tubes.inv_affine, tubes.opacity)
    assert all(torch.equal(a, b) for a, b in zip(got, expected))


def test_auto_picks_a_backend_for_the_device():
    assert ops.resolve_backend("auto", torch.device("cpu")) in ("cpu", "torch")


def test_unavailable_backend_raises_with_the_reason():
    v1, v2, tubes = example()
    with pytest.raises(RuntimeError, match="cuda.*CUDA tensors only"):
        composite(v1, v2, tubes, backend="cuda")
    with pytest.raises(ValueError, match="unknown 'gpu'"):
        composite(v1, v2, tubes, backend="gpu")


def test_composite_writes_into_out_and_keeps_the_input():
    v1, v2, tubes = example()
    out = torch.empty_like(v2)
    before = v2.clone()
    result = composite(v2, v1, tubes, out=out)
    assert result is out and torch.equal(v2, before)
    assert torch.equal(out, composite(v2, v1, tubes))


def test_painting_a_canvas_that_partly_overlaps_the_source_is_refused():
    v1, _, tubes = example()
    buffer = torch.rand(v1.numel() + 1)
    canvas, source = buffer[1:].view(v1.shape), buffer[:-1].view(v1.shape)
    with pytest.raises(ValueError, match="must be the source itself or share no memory with it"):
        ops.paint_([canvas], [], source, tubes)
