"""Sprite banks and source modes through the public API: ``load_sprites``,
``TubeletOverlay(source=...)``, ``assign_sprites``."""
from __future__ import annotations

import pytest
import torch

from helpers import cpu_backends
from tubelets import TubeletConfig, TubeletOverlay, composite, load_sprites, ops, render_masks, sample_tubelets
from tubelets.sprites import assign_sprites, sprite_source

PIL = pytest.importorskip("PIL.Image")


def bank(count=5, height=20, width=30, dtype=torch.uint8, seed=0):
    """Sprites of random colours 1..255 that are opaque in a centred 12 × 20 window, clear around it."""
    generator = torch.Generator().manual_seed(seed)
    sprites = torch.zeros(count, 4, height, width, dtype=torch.uint8)
    sprites[:, :3] = torch.randint(1, 256, (count, 3, height, width), generator=generator, dtype=torch.uint8)
    sprites[:, 3, 4:16, 5:25] = 255
    return sprites if dtype == torch.uint8 else (sprites.float() / 255).to(dtype)


def test_load_sprites_centres_each_image_on_a_clear_canvas(tmp_path):
    red = torch.zeros(6, 4, 4, dtype=torch.uint8)
    red[..., 0], red[..., 3] = 255, 200
    PIL.fromarray(red.numpy(), "RGBA").save(tmp_path / "a.png")
    PIL.fromarray(torch.full((2, 8, 3), 7, dtype=torch.uint8).numpy(), "RGB").save(tmp_path / "b.png")
    (tmp_path / "notes.txt").write_text("not an image")
    sprites = load_sprites(tmp_path)
    assert sprites.shape == (2, 4, 6, 8) and sprites.dtype == torch.uint8
    assert (sprites[0, :, :, 2:6] == torch.tensor([255, 0, 0, 200])[:, None, None]).all()
    assert (sprites[0, 3, :, :2] == 0).all() and (sprites[0, 3, :, 6:] == 0).all()  # margins clear
    assert (sprites[1, :3, 2:4] == 7).all() and (sprites[1, 3, 2:4] == 255).all()   # RGB: opaque
    assert (sprites[1, 3, :2] == 0).all() and (sprites[1, 3, 4:] == 0).all()
    assert load_sprites(tmp_path, size=(10, 10)).shape == (2, 4, 10, 10)
    with pytest.raises(ValueError, match="size: a.png is 6×4 pixels"):
        load_sprites(tmp_path, size=(5, 8))
    with pytest.raises(ValueError, match="path: no .png"):
        load_sprites(_empty(tmp_path))


def _empty(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


def test_assigned_sprites_keep_the_area_take_the_aspect_and_do_not_depend_on_the_batch():
    config = TubeletConfig(num_tubelets=3, transforms=())
    tubes = sample_tubelets(config, 4, 3, 64, 64, seed=torch.tensor(9))
    sprites = bank(count=7, height=20, width=40)
    placed = assign_sprites(tubes, sprites, generator=torch.Generator().manual_seed(2))
    assert (placed.src_box == torch.tensor([0, 0, 39, 19], dtype=torch.int32)).all()
    assert placed.src_frame.dtype == torch.int32 and ((placed.src_frame >= 0) & (placed.src_frame < 7)).all()
    assert len(placed.src_frame.unique()) > 1
    # Unrotated and unscaled: inv_affine's diagonal is 1 / half size, pixels.
    half_x, half_y = 1 / placed.inv_affine[..., 0, 0].double(), 1 / placed.inv_affine[..., 1, 1].double()
    crop = (tubes.src_box[..., 2:] - tubes.src_box[..., :2] + 1).double()
    assert torch.allclose(half_x / half_y, torch.full_like(half_x, 2.0))
    assert torch.allclose(4 * half_x * half_y, crop.prod(-1)[..., None].expand_as(half_x))
    assert torch.equal(placed.centers, tubes.centers) and torch.equal(placed.opacity, tubes.opacity)
    first = assign_sprites(tubes[:1], sprites, generator=torch.Generator().manual_seed(2))
    assert torch.equal(first.src_frame, placed.src_frame[:1])


@pytest.mark.parametrize("backend", cpu_backends())
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_sprites_paint_their_opaque_pixels_and_nothing_around_them(backend, dtype):
    sprites = bank(dtype=dtype)
    overlay = TubeletOverlay(num_tubelets=3, shapes=("rectangle",), transforms=(), source="sprites",
                             sprites=sprites, backend=backend)
    v1 = torch.zeros(2, 3, 4, 48, 64, dtype=dtype)
    out, tubes, masks = overlay(v1, return_tubelets=True, return_masks=True, generator=torch.Generator().manual_seed(0))
    painted = (out != 0).any(1)
    assert painted.any() and torch.equal(painted, masks >= 0)  # colours are >= 1 wherever alpha is 255
    # A sprite's clear margin is not painted: the footprint is smaller than the patch's.
    patch_masks = render_masks(tubes, 48, 64)
    assert (masks >= 0).sum() < (patch_masks >= 0).sum()
    assert torch.equal(render_masks(tubes, 48, 64, sprites=sprites, backend=backend), masks)
    # A bank in another dtype is converted, to the same pixels.
    other = bank(dtype=torch.float32 if dtype == torch.uint8 else torch.uint8)
    again = TubeletOverlay(overlay.config, source="sprites", sprites=other, backend=backend)(v1, tubelets=tubes)
    assert torch.equal(again, out)


def test_composite_pastes_a_sprite_bank_with_masks():
    """composite(source=sprite_source(...), source_alpha=True) is what the overlay paints."""
    sprites = bank()
    overlay = TubeletOverlay(source="sprites", sprites=sprites, backend="torch")
    v1 = torch.randint(0, 256, (2, 3, 4, 40, 56), dtype=torch.uint8)
    want, tubes, want_masks = overlay(v1, return_tubelets=True, return_masks=True)
    masks = torch.empty_like(want_masks)
    got = composite(v1, sprite_source(sprites, 2, torch.uint8, v1.device), tubes, masks=masks, source_alpha=True)
    assert torch.equal(got, want) and torch.equal(masks, want_masks)


@pytest.mark.parametrize("backend", cpu_backends())
def test_sprites_match_the_reference_backend_for_a_pair(backend):
    sprites = bank()
    v1, v2 = (torch.randint(0, 256, (3, 3, 5, 40, 56), dtype=torch.uint8) for _ in range(2))
    make = lambda name: TubeletOverlay(transforms=("rotation", "scale"), source="sprites",  # noqa: E731
                                       sprites=sprites, backend=name)
    q, k, tubes = make("torch")(v1, v2, return_tubelets=True)
    q2, k2 = make(backend)(v1, v2, tubelets=tubes)
    assert torch.equal(q, q2) and torch.equal(k, k2)


def constant_clips(batch=3, frames=4, size=32):
    """Clip b is the constant 10·b + 1 (v1) or 10·b + 5 (v2)."""
    level = torch.arange(batch, dtype=torch.uint8).view(-1, 1, 1, 1, 1) * 10
    shape = (batch, 3, frames, size, size)
    return (level + 1).expand(shape).contiguous(), (level + 5).expand(shape).contiguous()


@pytest.mark.parametrize("backend", cpu_backends())
@pytest.mark.parametrize("inplace", [False, True])
def test_source_modes_cut_the_patches_where_they_say(backend, inplace):
    """Constant clips make the source of every painted pixel readable from its value."""
    tubes = sample_tubelets(TubeletConfig(num_tubelets=2, opacity=(1.0, 1.0)), 3, 4, 32, 32, seed=torch.tensor(4))
    masks = render_masks(tubes, 32, 32)
    inside = (masks >= 0)[:, None].expand(-1, 3, -1, -1, -1)
    level = torch.arange(3, dtype=torch.uint8).view(-1, 1, 1, 1, 1) * 10
    previous = torch.roll(level, 1, 0)
    expected = {  # (painted value of v1', of v2') per clip
        "pair": (level + 1, level + 1), "self": (level + 1, level + 5), "batch": (previous + 1, previous + 1),
    }
    for mode, (first, second) in expected.items():
        v1, v2 = constant_clips()
        overlay = TubeletOverlay(source=mode, backend=backend, inplace=inplace)
        q, k = overlay(v1, v2, tubelets=tubes)
        assert torch.equal(q[inside], first.expand_as(q)[inside]), mode
        assert torch.equal(k[inside], second.expand_as(k)[inside]), mode
        v1, v2 = constant_clips()
        assert torch.equal(q[~inside], v1[~inside]) and torch.equal(k[~inside], v2[~inside]), mode


def test_source_modes_and_banks_are_checked_with_their_names():
    with pytest.raises(ValueError, match="source: unknown 'other'"):
        TubeletOverlay(source="other")
    with pytest.raises(ValueError, match="sprites: give a bank with source='sprites'"):
        TubeletOverlay(source="sprites")
    with pytest.raises(ValueError, match="sprites: give a bank with source='sprites'"):
        TubeletOverlay(sprites=bank())
    with pytest.raises(ValueError, match=r"sprites must be a non-empty RGBA bank \(N, 4, h, w\)"):
        TubeletOverlay(source="sprites", sprites=torch.zeros(2, 3, 4, 4, dtype=torch.uint8))
    with pytest.raises(TypeError, match="sprites: dtype torch.int32 is not supported"):
        TubeletOverlay(source="sprites", sprites=torch.zeros(2, 4, 4, 4, dtype=torch.int32))
    overlay = TubeletOverlay(source="sprites", sprites=bank())
    with pytest.raises(ValueError, match="v1 must have 3 channels, got 1"):
        overlay(torch.zeros(1, 1, 2, 16, 16, dtype=torch.uint8))
    tubes = assign_sprites(sample_tubelets(TubeletConfig(), 1, 2, 16, 16, seed=torch.tensor(1)), bank())
    bad = tubes.__class__(**{**tubes.to_dict(), "src_frame": tubes.src_frame + 5})
    with pytest.raises(ValueError, match=r"tubelets.src_frame must lie in \[0, 5\)"):
        overlay(torch.zeros(1, 3, 2, 16, 16, dtype=torch.uint8), tubelets=bad)
    assert "source='sprites', sprites=(5, 4, 20, 30)" in repr(overlay)
    clips = torch.zeros(2, 3, 2, 16, 16, dtype=torch.uint8)
    plain = sample_tubelets(TubeletConfig(), 2, 2, 16, 16, seed=torch.tensor(1))
    far = plain.__class__(**{**plain.to_dict(), "src_frame": plain.src_frame + 2})
    with pytest.raises(ValueError, match=r"tubelets.src_frame must lie in \[0, 2\)"):
        TubeletOverlay(source="batch")(clips, tubelets=far)
    assert overlay.to("cpu").sprites is not None and "sprites" not in overlay.state_dict()
    with pytest.raises(TypeError, match="source_alpha must be a bool"):
        ops.paint_([], [], torch.zeros(1, 4, 1, 2, 2), tubes, masks=None, source_alpha=1)
