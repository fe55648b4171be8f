"""`TubeletTransform` inside torchvision's own ``v2.Compose``, on real ``tv_tensors``.

torchvision's wheels pair with their own torch build, not with the CPU torch of the main
venv: these tests run in the venv that .ci/integrations builds, and skip elsewhere.
"""
import pytest
import torch

from conftest import TORCHVISION_VENV

torchvision = pytest.importorskip("torchvision", reason=TORCHVISION_VENV)
from torch.utils.data import DataLoader, Dataset  # noqa: E402
from torchvision import tv_tensors  # noqa: E402
from torchvision.transforms import v2  # noqa: E402

from tubelets import TubeletConfig, TubeletOverlay, Tubelets  # noqa: E402
from tubelets.integrations.torchvision import TubeletTransform  # noqa: E402

torch.set_num_threads(1)
FRAMES, CHANNELS, HEIGHT, WIDTH = 6, 3, 40, 52
MEAN, STD = [0.45, 0.40, 0.35], [0.225, 0.25, 0.20]


def video(*batch, seed=0, dtype=torch.uint8):
    """A random ``tv_tensors.Video`` ``(*batch, T, C, H, W)``."""
    g = torch.Generator().manual_seed(seed)
    pixels = torch.randint(0, 256, (*batch, FRAMES, CHANNELS, HEIGHT, WIDTH), generator=g, dtype=torch.uint8)
    return tv_tensors.Video(pixels.to(dtype))


def plain(tensor):
    return tensor.as_subclass(torch.Tensor)


def later_by_hand(painted):
    """What flip, ToDtype(float32, scale=True) and Normalize do, written out: ``(..., T, C, H, W)``."""
    mean = torch.tensor(MEAN).view(-1, 1, 1)
    std = torch.tensor(STD).view(-1, 1, 1)
    return (painted.flip(-1).float() / 255 - mean) / std


def pipeline(**options):
    return v2.Compose([
        TubeletTransform(**options),
        v2.RandomHorizontalFlip(p=1.0),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(mean=MEAN, std=STD),
    ])


def replay(v1, v2_, tubes):
    """The pair TubeletOverlay paints with these tubelets (patches cut from v1)."""
    return TubeletOverlay(data_format="BTCHW")(plain(v1), plain(v2_), tubelets=tubes)


def test_a_pair_in_compose_stays_videos_gets_the_same_tubelets_and_every_later_transform():
    v1, v2_ = video(seed=1), video(seed=2)
    (q, k), tubes = pipeline(return_tubelets=True)(v1, v2_)
    assert type(q) is tv_tensors.Video and type(k) is tv_tensors.Video
    assert q.dtype == k.dtype == torch.float32 and q.shape == k.shape == v1.shape
    assert isinstance(tubes, Tubelets) and tubes.batch_size == 1 and tubes.num_frames == FRAMES
    painted1, painted2 = replay(v1, v2_, tubes)
    # The tubelets really are there, on both clips, and they are v1's patches on both.
    assert not torch.equal(painted1, plain(v1)) and not torch.equal(painted2, plain(v2_))
    torch.testing.assert_close(plain(q), later_by_hand(painted1), rtol=0, atol=1e-6)
    torch.testing.assert_close(plain(k), later_by_hand(painted2), rtol=0, atol=1e-6)


def test_a_dict_sample_passes_every_other_entry_through_and_emits_boxes():
    v1, v2_ = video(seed=3), video(seed=4)
    label = torch.tensor(7)
    own_boxes = tv_tensors.BoundingBoxes([[1.0, 2.0, 11.0, 12.0]], format="XYXY", canvas_size=(HEIGHT, WIDTH))
    sample = {"clip": v1, "label": label, "boxes": own_boxes, "name": "bikes", "other": v2_}
    out, boxes, tubes = pipeline(boxes=True, return_tubelets=True)(sample)
    assert list(out) == list(sample)
    assert out["label"] is label and out["name"] == "bikes"
    assert type(out["clip"]) is tv_tensors.Video and type(out["other"]) is tv_tensors.Video
    painted1, painted2 = replay(v1, v2_, tubes)  # "clip" comes first, so the patches are its own
    torch.testing.assert_close(plain(out["clip"]), later_by_hand(painted1), rtol=0, atol=1e-6)
    torch.testing.assert_close(plain(out["other"]), later_by_hand(painted2), rtol=0, atol=1e-6)
    # The sample's own boxes went on to the flip untouched: flipped once, by torchvision.
    torch.testing.assert_close(plain(out["boxes"]), torch.tensor([[WIDTH - 11.0, 2.0, WIDTH - 1.0, 12.0]]))
    # The tubelet boxes: BoundingBoxes (T·M, 4), flipped with the clips.
    assert type(boxes) is tv_tensors.BoundingBoxes
    assert boxes.format == tv_tensors.BoundingBoxFormat.XYXY and boxes.canvas_size == (HEIGHT, WIDTH)
    inclusive = tubes.frame_boxes(HEIGHT, WIDTH)[0].transpose(0, 1).reshape(-1, 4).float()  # (T·M, 4)
    x0, y0, x1, y1 = inclusive.unbind(1)
    expected = torch.stack([WIDTH - (x1 + 1), y0, WIDTH - x0, y1 + 1], 1)
    torch.testing.assert_close(plain(boxes), expected, rtol=0, atol=0)


def test_the_transform_alone_returns_the_other_entries_themselves():
    v1, label = video(seed=5), object()
    own_boxes = tv_tensors.BoundingBoxes([[0, 0, 4, 4]], format="XYXY", canvas_size=(HEIGHT, WIDTH))
    sample = {"video": v1, "boxes": own_boxes, "label": label, "extra": torch.zeros(3)}
    out = TubeletTransform()(sample)
    assert out is not sample and out["boxes"] is own_boxes and out["label"] is label
    assert out["extra"] is sample["extra"]
    assert type(out["video"]) is tv_tensors.Video and not torch.equal(plain(out["video"]), plain(v1))


def test_the_boxes_hold_every_painted_pixel_in_torchvisions_pixel_edges():
    config = TubeletConfig(num_tubelets=3, motion="linear", transforms=("rotation", "scale"))
    clip = video(seed=6)
    painted, boxes, tubes = TubeletTransform(config, boxes=True, return_tubelets=True)(clip)
    assert boxes.shape == (FRAMES * 3, 4) and boxes.dtype == torch.float32
    per_frame = plain(boxes).reshape(FRAMES, 3, 4)
    changed = (plain(painted) != plain(clip)).any(dim=1)  # (T, H, W)
    assert changed.any()
    rows, columns = torch.arange(HEIGHT).view(-1, 1), torch.arange(WIDTH).view(1, -1)
    for t in range(FRAMES):
        inside = torch.zeros(HEIGHT, WIDTH, dtype=torch.bool)
        for x0, y0, x1, y1 in per_frame[t].tolist():  # pixel j spans [j, j + 1)
            inside |= (columns >= x0) & (columns < x1) & (rows >= y0) & (rows < y1)
        assert not (changed[t] & ~inside).any(), f"frame {t}: painted pixels outside the boxes"
    assert ((per_frame[..., 2:] > per_frame[..., :2]).all(-1) | (per_frame == 0).all(-1)).all()


def test_one_video_gets_tubelets_cut_from_itself():
    clip = video(seed=7)
    out, tubes = TubeletTransform(return_tubelets=True)({"video": clip, "label": 3})
    assert out["label"] == 3 and type(out["video"]) is tv_tensors.Video
    expected = TubeletOverlay(data_format="BTCHW")(plain(clip), tubelets=tubes)
    assert torch.equal(plain(out["video"]), expected)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_a_batch_of_pairs_gets_one_draw_per_clip(dtype):
    v1, v2_ = video(3, seed=8, dtype=dtype), video(3, seed=9, dtype=dtype)
    (q, k), boxes, tubes = TubeletTransform(boxes=True, return_tubelets=True)((v1, v2_))
    assert q.dtype == dtype and type(q) is tv_tensors.Video and q.shape == (3, FRAMES, CHANNELS, HEIGHT, WIDTH)
    assert tubes.batch_size == 3 and boxes.shape == (3 * FRAMES * 2, 4)
    assert not torch.equal(tubes.src_box[0], tubes.src_box[1])
    expected_q, expected_k = replay(v1, v2_, tubes)
    assert torch.equal(plain(q), expected_q) and torch.equal(plain(k), expected_k)


def test_the_draw_follows_torch_manual_seed():
    clip = video(seed=10)
    transform = TubeletTransform()
    outputs = []
    for seed in (0, 0, 1):
        torch.manual_seed(seed)
        outputs.append(plain(transform(clip)))
    assert torch.equal(outputs[0], outputs[1]) and not torch.equal(outputs[0], outputs[2])


def test_a_dataloader_collates_the_painted_samples_and_their_tubelets():
    class Clips(Dataset):
        transform = TubeletTransform(return_tubelets=True)

        def __len__(self):
            return 4

        def __getitem__(self, index):
            return self.transform({"video": video(seed=index), "label": index})

    sample, tubes = next(iter(DataLoader(Clips(), batch_size=4)))
    assert sample["video"].shape == (4, FRAMES, CHANNELS, HEIGHT, WIDTH) and sample["label"].tolist() == [0, 1, 2, 3]
    assert isinstance(tubes, Tubelets) and tubes.batch_size == 4
    painted = TubeletOverlay(data_format="BTCHW")(torch.stack([plain(video(seed=i)) for i in range(4)]), tubelets=tubes)
    assert torch.equal(plain(sample["video"]), painted)


def test_a_sample_without_a_video_is_refused_not_passed_through():
    with pytest.raises(TypeError, match=r"tv_tensors\.Video"):
        TubeletTransform()(plain(video()))
    with pytest.raises(TypeError, match="none"):
        TubeletTransform()({"image": tv_tensors.Image(torch.zeros(3, 8, 8, dtype=torch.uint8)), "label": 1})


def test_samples_it_cannot_paint_are_refused():
    with pytest.raises(ValueError, match="3 Videos"):
        TubeletTransform()(video(seed=1), video(seed=2), video(seed=3))
    with pytest.raises(ValueError, match="match in shape"):
        TubeletTransform()(video(seed=1), video(2, seed=2))
    with pytest.raises(ValueError, match="must match in shape, dtype"):
        TubeletTransform()(video(seed=1), video(seed=2, dtype=torch.float32))
    channels_last = tv_tensors.Video(plain(video()).permute(0, 2, 3, 1))  # (T, H, W, C) wrapped as a Video
    with pytest.raises(ValueError, match="channels"):
        TubeletTransform()(channels_last)
    with pytest.raises(ValueError, match=r"shape \(B, T, C, H, W\) or \(T, C, H, W\)"):
        TubeletTransform()(tv_tensors.Video(torch.zeros(1, 2, FRAMES, CHANNELS, 8, 8, dtype=torch.uint8)))


def test_arguments_are_checked_and_shown():
    with pytest.raises(TypeError, match="boxes must be a bool"):
        TubeletTransform(boxes=1)
    with pytest.raises(ValueError, match="backend"):
        TubeletTransform(backend="nope")
    with pytest.raises(ValueError, match="not both"):
        TubeletTransform(TubeletConfig(), num_tubelets=1)
    transform = TubeletTransform(num_tubelets=1, boxes=True)
    assert transform.config == TubeletConfig(num_tubelets=1)
    assert "num_tubelets=1" in repr(transform) and "boxes=True" in repr(transform)
    assert isinstance(transform, v2.Transform)


def test_the_module_example_runs():
    import doctest

    import tubelets.integrations.torchvision as module
    results = doctest.testmod(module)
    assert results.attempted > 0 and results.failed == 0
