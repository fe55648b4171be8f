"""`RandomTubelets3D` inside kornia's own containers: ``AugmentationSequential`` on
``(B, C, T, H, W)``, kornia's parameter replay, and the ``VideoSequential`` hazard."""
import subprocess
import sys

import kornia.augmentation as K
import pytest
import torch
from torch import nn

from tubelets import TubeletConfig, TubeletOverlay, Tubelets
from tubelets.integrations.kornia import RandomTubelets3D

torch.set_num_threads(1)
BATCH, CHANNELS, FRAMES, HEIGHT, WIDTH = 3, 3, 6, 40, 52


def clips(batch=BATCH, seed=0):
    """uint8 clips as a decoder gives them, converted to kornia's float ``(B, C, T, H, W)``."""
    g = torch.Generator().manual_seed(seed)
    pixels = torch.randint(0, 256, (batch, CHANNELS, FRAMES, HEIGHT, WIDTH), generator=g, dtype=torch.uint8)
    return pixels.float() / 255


def test_augmentation_sequential_paints_what_the_overlay_paints_and_replays_it():
    x = clips()
    seq = K.AugmentationSequential(RandomTubelets3D(), K.RandomHorizontalFlip3D(p=1.0), data_keys=["input"])
    y = seq(x)
    assert y.shape == x.shape and y.dtype == torch.float32
    tubes = RandomTubelets3D.tubelets(seq._params[0].data)
    assert isinstance(tubes, Tubelets) and tubes.batch_size == BATCH and tubes.num_frames == FRAMES
    painted = TubeletOverlay()(x, tubelets=tubes)
    assert not torch.equal(painted, x)
    assert torch.equal(y, painted.flip(-1))
    torch.manual_seed(123)  # the replay draws nothing: another RNG state changes nothing
    assert torch.equal(seq(x, params=seq._params), y)
    assert not torch.equal(seq(x), y)  # a fresh call draws fresh tubelets


def test_a_replay_on_another_batch_paints_the_same_motion_with_its_own_pixels():
    x, other = clips(seed=1), clips(seed=2)
    seq = K.AugmentationSequential(RandomTubelets3D(), data_keys=["input"])
    seq(x)
    tubes = RandomTubelets3D.tubelets(seq._params[0].data)
    assert torch.equal(seq(other, params=seq._params), TubeletOverlay()(other, tubelets=tubes))


def test_the_bare_augmentation_replays_its_params_and_takes_one_clip():
    x = clips()
    aug = RandomTubelets3D(num_tubelets=3, motion="linear")
    y = aug(x)
    assert torch.equal(aug(x, params=aug._params), y)
    assert torch.equal(y, TubeletOverlay()(x, tubelets=aug.tubelets(aug._params)))
    one = aug(x[0])  # (C, T, H, W): kornia adds the batch
    assert one.shape == (1, CHANNELS, FRAMES, HEIGHT, WIDTH)
    assert RandomTubelets3D(keepdim=True)(x[0]).shape == x[0].shape


def test_the_params_are_plain_tensors_that_survive_torch_save(tmp_path):
    x = clips()
    aug = RandomTubelets3D()
    y = aug(x)
    assert all(isinstance(value, torch.Tensor) for value in aug._params.values())
    torch.save(aug._params, tmp_path / "params.pt")
    params = torch.load(tmp_path / "params.pt", weights_only=True)
    assert torch.equal(RandomTubelets3D()(x, params=params), y)


def test_p_gates_clips_as_kornia_does():
    x = clips()
    aug = RandomTubelets3D(p=0.5)
    aug(x)
    params = dict(aug._params, batch_prob=torch.tensor([1.0, 0.0, 1.0]))
    y = aug(x, params=params)
    painted = TubeletOverlay()(x, tubelets=aug.tubelets(params))
    assert torch.equal(y[1], x[1])
    assert torch.equal(y[[0, 2]], painted[[0, 2]]) and not torch.equal(y[0], x[0])


def test_same_on_batch_gives_every_clip_the_same_tubelets():
    x = clips(1).expand(BATCH, -1, -1, -1, -1).contiguous()
    seq = K.AugmentationSequential(RandomTubelets3D(), data_keys=["input"], same_on_batch=True)
    y = seq(x)
    tubes = RandomTubelets3D.tubelets(seq._params[0].data)
    assert all(tubes[i] == tubes[0] for i in range(BATCH))
    assert all(torch.equal(y[i], y[0]) for i in range(BATCH)) and not torch.equal(y[0], x[0])


def test_replayed_params_are_checked():
    x = clips()
    aug = RandomTubelets3D()
    aug(x)
    bad = dict(aug._params, opacity=aug._params["opacity"] + 2)
    with pytest.raises(ValueError, match="opacity"):
        aug(x, params=bad)


def test_uint8_and_other_layouts_are_refused():
    pixels = torch.zeros(BATCH, CHANNELS, FRAMES, HEIGHT, WIDTH, dtype=torch.uint8)
    seq = K.AugmentationSequential(RandomTubelets3D(), data_keys=["input"])
    with pytest.raises(TypeError, match="uint8"):  # kornia's own 3D dtype guard
        seq(pixels)
    btchw = clips().transpose(1, 2).contiguous()  # (B, T, C, H, W): 6 "channels"
    with pytest.raises(ValueError, match="channels"):
        seq(btchw)
    assert RandomTubelets3D(channels=FRAMES)(btchw).shape == btchw.shape  # told, it paints


def test_video_sequential_flattens_frames_so_it_is_refused():
    """What kornia's VideoSequential hands its children, shown with a plain module, and the
    refusal that keeps tubelets out of it (they would stand still and differ per channel)."""
    seen = []

    class Record(nn.Module):
        def forward(self, x):
            seen.append(tuple(x.shape))
            return x

    x = clips()
    K.VideoSequential(Record(), data_format="BCTHW")(x)
    assert seen == [(BATCH * FRAMES, CHANNELS, HEIGHT, WIDTH)]  # frames flattened into the batch
    for same_on_frame in (True, False):
        video = K.VideoSequential(RandomTubelets3D(), data_format="BCTHW", same_on_frame=same_on_frame)
        with pytest.raises(ValueError, match="VideoSequential"):
            video(x)
    wrapped = K.AugmentationSequential(K.VideoSequential(RandomTubelets3D(), data_format="BCTHW"))
    with pytest.raises(ValueError, match="VideoSequential"):
        wrapped(x)


def test_beside_a_video_sequential_it_paints_the_clips():
    x = clips()
    seq = K.AugmentationSequential(
        RandomTubelets3D(), K.VideoSequential(K.RandomHorizontalFlip(p=1.0), data_format="BCTHW"), data_keys=["input"]
    )
    y = seq(x)
    tubes = RandomTubelets3D.tubelets(seq._params[0].data)
    assert torch.equal(y, TubeletOverlay()(x, tubelets=tubes).flip(-1))


def test_arguments_are_checked_and_shown():
    with pytest.raises(ValueError, match="not both"):
        RandomTubelets3D(TubeletConfig(), num_tubelets=1)
    with pytest.raises(ValueError, match="backend"):
        RandomTubelets3D(backend="nope")
    aug = RandomTubelets3D(num_tubelets=1)
    assert aug.overlay.config == TubeletConfig(num_tubelets=1) and "num_tubelets=1" in repr(aug)


def test_importing_tubelets_imports_no_host_library():
    code = ("import sys, tubelets, tubelets.integrations; "
            "loaded = [name for name in ('torchvision', 'kornia') if name in sys.modules]; "
            "assert not loaded, loaded")
    subprocess.run([sys.executable, "-P", "-c", code], check=True)


def test_the_module_example_runs():
    import doctest

    import tubelets.integrations.kornia as module
    results = doctest.testmod(module)
    assert results.attempted > 0 and results.failed == 0
