"""No gradients, never wrong ones: inputs that require grad are refused while grad mode is on.

The op paints without a derivative (a painted pixel does not depend on the video under it,
and the source's bilinear samples are not differentiated), so letting autograd record
through it would give silently wrong gradients.
"""
import dataclasses

import pytest
import torch

from helpers import cpu_backends
from tubelets import TubeletConfig, TubeletOverlay, composite, sample_tubelets

SHAPE = (2, 3, 4, 10, 12)


def inputs():
    generator = torch.Generator().manual_seed(0)
    video, source = (torch.rand(SHAPE, generator=generator) for _ in range(2))
    tubes = sample_tubelets(TubeletConfig(num_tubelets=3), 2, 4, 10, 12, seed=torch.tensor(4))
    return video, source, tubes


def requiring_grad(name, video, source, tubes):
    """The arguments of ``composite`` with the one named ``name`` requiring grad."""
    arguments = {"video": video, "source": source, "tubelets": tubes, "out": None}
    if name.startswith("tubelets."):
        field = name.removeprefix("tubelets.")
        arguments["tubelets"] = dataclasses.replace(tubes, **{field: getattr(tubes, field).clone().requires_grad_()})
    elif name == "out":
        arguments["out"] = torch.empty(SHAPE, requires_grad=True)
    else:
        arguments[name] = arguments[name].clone().requires_grad_()
    return arguments


NAMES = ["video", "source", "out", "tubelets.inv_affine", "tubelets.opacity", "tubelets.softness"]


@pytest.mark.parametrize("backend", cpu_backends())
@pytest.mark.parametrize("name", NAMES)
def test_composite_refuses_an_argument_that_requires_grad(backend, name):
    arguments = requiring_grad(name, *inputs())
    with pytest.raises(RuntimeError, match=rf"^{name} requires grad, .* {name}.detach\(\)"):
        composite(arguments.pop("video"), arguments.pop("source"), arguments.pop("tubelets"), backend=backend,
                  **arguments)


@pytest.mark.parametrize("backend", cpu_backends())
def test_painting_in_place_a_video_that_requires_grad_is_refused_before_any_write(backend):
    video, source, tubes = inputs()
    leaf = video.clone().requires_grad_()
    before = leaf.detach().clone()
    with pytest.raises(RuntimeError, match="^video requires grad"):
        composite(leaf, source, tubes, out=leaf, backend=backend)
    assert torch.equal(leaf.detach(), before)


@pytest.mark.parametrize("backend", cpu_backends())
@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("name", ["v1", "v2"])
def test_overlay_refuses_a_clip_that_requires_grad(backend, inplace, name):
    video, source, _ = inputs()
    clips = {"v1": video, "v2": source}
    clips[name] = clips[name].clone().requires_grad_()
    before = {key: clip.detach().clone() for key, clip in clips.items()}
    with pytest.raises(RuntimeError, match=f"^{name} requires grad"):
        TubeletOverlay(backend=backend, inplace=inplace)(clips["v1"], clips["v2"])
    assert all(torch.equal(clips[key].detach(), before[key]) for key in clips)


@pytest.mark.parametrize("backend", cpu_backends())
@pytest.mark.parametrize("name", NAMES)
def test_under_no_grad_an_argument_that_requires_grad_paints_like_a_detached_one(backend, name):
    video, source, tubes = inputs()
    expected = composite(video, source, tubes, backend=backend)
    arguments = requiring_grad(name, video, source, tubes)
    with torch.no_grad():
        painted = composite(arguments.pop("video"), arguments.pop("source"), arguments.pop("tubelets"),
                            backend=backend, **arguments)
    assert torch.equal(painted.detach(), expected) and painted.grad_fn is None
    with torch.no_grad():
        pair = TubeletOverlay(backend=backend)(video.requires_grad_(), source, tubelets=tubes)
    assert torch.equal(pair[0], TubeletOverlay(backend=backend)(video.detach(), source, tubelets=tubes)[0])
