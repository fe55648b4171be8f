"""`Tubelets` in data pipelines: indexing along B, cat, equality, dicts, and collation."""
import dataclasses
import io

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.utils.data import DataLoader, Dataset, default_collate

import tubelets
from tubelets import TubeletConfig, TubeletOverlay, Tubelets, sample_tubelets

FRAMES, HEIGHT, WIDTH = 4, 20, 24
# Both keyframe fields present, and one with motion keyframes absent.
KEYFRAMED = TubeletConfig(num_tubelets=3, motion="linear", transforms=("rotation", "scale"))
STATIC = TubeletConfig(num_tubelets=3, motion="static")
NAMES = [f.name for f in dataclasses.fields(Tubelets)]


def sample(config=KEYFRAMED, batch=5, frames=FRAMES, seed=0) -> Tubelets:
    return sample_tubelets(config, batch, frames, HEIGHT, WIDTH, seed=torch.tensor(seed))


def assert_fields(actual: Tubelets, expected: dict) -> None:
    """Every field of ``actual`` is the tensor (or ``None``) in ``expected``, bit for bit."""
    for name in NAMES:
        got, want = getattr(actual, name), expected[name]
        if want is None:
            assert got is None, name
        else:
            assert got.dtype == want.dtype and got.shape == want.shape and torch.equal(got, want), name


def fields_of(tubes: Tubelets, select) -> dict:
    """``select`` applied to every raw field of ``tubes``."""
    return {name: None if (v := getattr(tubes, name)) is None else select(v) for name in NAMES}


def cat_fields(parts: list) -> dict:
    """The raw fields of ``parts`` joined along B with ``torch.cat`` directly."""
    return {name: None if getattr(parts[0], name) is None else torch.cat([getattr(p, name) for p in parts])
            for name in NAMES}


def test_the_samples_hold_what_the_tests_assume():
    keyframed, static = sample(), sample(STATIC)
    assert keyframed.motion_keyframes is not None and keyframed.transform_keyframes is not None
    assert static.motion_keyframes is None


# Indexing along B.

@pytest.mark.parametrize("config", [KEYFRAMED, STATIC])
@pytest.mark.parametrize("index", [0, 3, -1, -5])
def test_an_int_selects_one_clip_as_a_batch_of_one(config, index):
    tubes = sample(config)
    start = index % tubes.batch_size
    clip = tubes[index]
    assert clip.batch_size == 1 and clip.inv_affine.shape == (1, 3, FRAMES, 2, 3)
    assert_fields(clip, fields_of(tubes, lambda v: v[start:start + 1]))


def test_a_0_dim_integer_tensor_indexes_like_an_int():
    tubes = sample()
    assert_fields(tubes[torch.tensor(2)], fields_of(tubes, lambda v: v[2:3]))


@pytest.mark.parametrize("index", [5, -6, 100])
def test_an_int_out_of_range_raises_index_error(index):
    with pytest.raises(IndexError, match=f"{index} is out of range for 5 clips"):
        sample()[index]


def test_iterating_yields_each_clip_once():
    tubes = sample()
    clips = list(tubes)
    assert len(clips) == 5
    for i, clip in enumerate(clips):
        assert torch.equal(clip.inv_affine, tubes.inv_affine[i:i + 1])


@pytest.mark.parametrize("config", [KEYFRAMED, STATIC])
@pytest.mark.parametrize("index", [slice(1, 3), slice(None, None, 2), slice(-3, None), slice(3, 3)])
def test_a_slice_selects_those_clips(config, index):
    tubes = sample(config)
    assert_fields(tubes[index], fields_of(tubes, lambda v: v[index]))


@pytest.mark.parametrize("index", [[4, 0, 0], [True, False, True, False, True], []])
def test_a_list_selects_those_clips(index):
    tubes = sample()
    assert_fields(tubes[index], fields_of(tubes, lambda v: v[torch.tensor(index, dtype=None if index else torch.long)]))


@pytest.mark.parametrize("index", [torch.tensor([3, 1]), torch.tensor([False, True, True, False, False]),
                                   torch.tensor([1, 1], dtype=torch.int32)])
def test_a_tensor_selects_those_clips(index):
    tubes = sample()
    selected = tubes[index]
    assert selected.batch_size == (int(index.sum()) if index.dtype == torch.bool else len(index))
    assert_fields(selected, fields_of(tubes, lambda v: v[index]))


@pytest.mark.parametrize("index, error", [((0, 1), TypeError), (True, TypeError), ("0", TypeError),
                                          (torch.tensor([[0, 1]]), IndexError),
                                          (torch.tensor(True), IndexError), (torch.tensor(1.0), IndexError)])
def test_an_index_that_is_not_along_b_is_refused(index, error):
    with pytest.raises(error, match="Tubelets index"):
        sample()[index]


# cat.

@pytest.mark.parametrize("config", [KEYFRAMED, STATIC])
def test_cat_joins_the_fields_along_b(config):
    parts = [sample(config, 2, seed=1), sample(config, 1, seed=2), sample(config, 3, seed=3)]
    joined = Tubelets.cat(parts)
    assert joined.batch_size == 6
    assert_fields(joined, cat_fields(parts))


def test_cat_then_index_gives_back_the_parts():
    a, b = sample(batch=2, seed=1), sample(batch=3, seed=2)
    joined = Tubelets.cat((a, b))  # any iterable
    assert_fields(joined[:2], fields_of(a, lambda v: v))
    assert_fields(joined[2:], fields_of(b, lambda v: v))
    assert_fields(joined[3], fields_of(b, lambda v: v[1:2]))


def test_cat_of_one_is_equal_and_of_clips_is_the_whole():
    tubes = sample()
    assert_fields(Tubelets.cat([tubes]), fields_of(tubes, lambda v: v))
    assert_fields(Tubelets.cat([tubes[i] for i in range(5)]), fields_of(tubes, lambda v: v))


SPLIT = sample(batch=5, seed=7)


@given(st.lists(st.integers(0, 5), max_size=6))
def test_cat_of_slices_at_any_split_points_is_the_original(points):
    tubes = SPLIT
    edges = [0, *sorted(points), tubes.batch_size]
    pieces = [tubes[lo:hi] for lo, hi in zip(edges, edges[1:])]
    assert [p.batch_size for p in pieces] == [hi - lo for lo, hi in zip(edges, edges[1:])]
    assert_fields(Tubelets.cat(pieces), fields_of(tubes, lambda v: v))


@pytest.mark.parametrize("other, named", [
    (sample(TubeletConfig(num_tubelets=2, motion="linear", transforms=("rotation", "scale")), 1), "num_tubelets"),
    (sample(batch=1, frames=FRAMES + 1), "num_frames"),
    (sample(STATIC, 1), "motion_keyframes is a tensor in tubelets\\[0\\] but None in tubelets\\[1\\]"),
    (sample(TubeletConfig(num_tubelets=3, motion="linear", transforms=("rotation", "scale"), keyframes=4), 1),
     "motion_keyframes differs: .* \\(1, 3, 4\\) torch.int64 on cpu in tubelets\\[1\\]"),
    (sample(batch=1).to("meta"), "device differs: tubelets\\[0\\] is on cpu, tubelets\\[1\\] on meta"),
])
def test_cat_names_what_differs(other, named):
    with pytest.raises(ValueError, match=named):
        Tubelets.cat([sample(batch=2), other])


def test_cat_names_a_tensor_absent_from_the_first():
    with pytest.raises(ValueError, match="motion_keyframes is None in tubelets\\[0\\] but a tensor in tubelets\\[2\\]"):
        Tubelets.cat([sample(STATIC), sample(STATIC), sample()])


def test_cat_names_a_field_whose_dtype_differs():
    tubes = sample(batch=1)
    other = dataclasses.replace(tubes, src_box=tubes.src_box.long())
    with pytest.raises(ValueError, match="src_box differs: .*torch.int32.*torch.int64"):
        Tubelets.cat([tubes, other])


def test_cat_refuses_nothing_and_things_that_are_not_tubelets():
    with pytest.raises(ValueError, match="at least one"):
        Tubelets.cat([])
    with pytest.raises(TypeError, match="tubelets\\[1\\] must be Tubelets, got dict"):
        Tubelets.cat([sample(), sample().to_dict()])


# Equality and hashing.

def clone(tubes: Tubelets) -> Tubelets:
    return Tubelets(**fields_of(tubes, torch.clone))


@pytest.mark.parametrize("config", [KEYFRAMED, STATIC])
def test_equal_values_are_equal_and_the_answer_is_a_bool(config):
    a, b = sample(config), clone(sample(config))
    assert (a == b) is True and (a != b) is False
    assert (a == sample(config, seed=1)) is False


@pytest.mark.parametrize("name", NAMES)
def test_one_value_differing_makes_them_unequal(name):
    tubes = sample()
    changed = getattr(tubes, name).clone()
    changed.view(-1)[-1] += 1
    other = dataclasses.replace(clone(tubes), **{name: changed})
    assert (tubes == other) is False and (tubes != other) is True


@pytest.mark.parametrize("name", ["motion_keyframes", "transform_keyframes"])
def test_keyframes_none_against_a_tensor_are_unequal(name):
    tubes = sample()
    without = dataclasses.replace(tubes, **{name: None})
    assert (tubes == without) is False and (without == tubes) is False
    assert (without == dataclasses.replace(clone(tubes), **{name: None})) is True


def test_different_shapes_dtypes_or_devices_are_unequal():
    tubes = sample()
    assert (tubes[:2] == tubes[:3]) is False
    assert (tubes == dataclasses.replace(tubes, src_frame=tubes.src_frame.long())) is False
    assert (tubes == tubes.to("meta")) is False


def test_tubelets_are_unequal_to_other_types():
    tubes = sample()
    assert (tubes == tubes.to_dict()) is False and (tubes == 3) is False and (tubes != None) is True  # noqa: E711


def test_tubelets_are_unhashable():
    tubes = sample()
    with pytest.raises(TypeError, match="unhashable"):
        hash(tubes)
    with pytest.raises(TypeError, match="unhashable"):
        {tubes}


# Dicts.

@pytest.mark.parametrize("config", [KEYFRAMED, STATIC])
def test_to_dict_holds_the_very_tensors_and_round_trips(config):
    tubes = sample(config)
    d = tubes.to_dict()
    assert type(d) is dict and list(d) == NAMES
    for name in NAMES:
        assert d[name] is getattr(tubes, name)
    back = Tubelets.from_dict(d)
    assert_fields(back, fields_of(tubes, lambda v: v))


def test_to_dict_survives_torch_save_and_a_weights_only_load():
    tubes = sample(STATIC)
    buffer = io.BytesIO()
    torch.save(tubes.to_dict(), buffer)
    buffer.seek(0)
    assert_fields(Tubelets.from_dict(torch.load(buffer, weights_only=True)), fields_of(tubes, lambda v: v))


def test_asdict_works_with_none_keyframes_but_copies():
    tubes = sample(STATIC)
    d = dataclasses.asdict(tubes)
    assert d["motion_keyframes"] is None and d["inv_affine"] is not tubes.inv_affine
    assert_fields(Tubelets.from_dict(d), fields_of(tubes, lambda v: v))


def test_from_dict_may_leave_out_absent_keyframes():
    d = sample(STATIC).to_dict()
    del d["motion_keyframes"]
    assert Tubelets.from_dict(d).motion_keyframes is None


def test_from_dict_names_missing_and_unknown_fields():
    d = sample().to_dict()
    with pytest.raises(ValueError, match="missing fields \\['opacity'\\]"):
        Tubelets.from_dict({k: v for k, v in d.items() if k != "opacity"})
    with pytest.raises(ValueError, match="unknown fields \\['colour'\\]"):
        Tubelets.from_dict({**d, "colour": torch.zeros(1)})


# Collation.

class Clips(Dataset):
    """``(clip, tubes)``: a ``(C, T, H, W)`` float clip and its tubelets, a batch of one."""

    def __init__(self, config=KEYFRAMED, count=5, as_dict=False):
        self.config, self.count, self.as_dict = config, count, as_dict

    def __len__(self):
        return self.count

    def __getitem__(self, i):
        clip = torch.rand(3, FRAMES, HEIGHT, WIDTH, generator=torch.Generator().manual_seed(i))
        tubes = sample_tubelets(self.config, 1, FRAMES, HEIGHT, WIDTH, seed=torch.tensor(100 + i))
        return {"video": clip, "tubelets": tubes} if self.as_dict else (clip, tubes)


def test_importing_tubelets_registers_the_collate_hook():
    from torch.utils.data._utils.collate import default_collate_fn_map

    assert tubelets.collate.REGISTERED is True
    assert default_collate_fn_map[Tubelets] == Tubelets.collate


def test_default_collate_joins_per_clip_tubelets():
    samples = [Clips(STATIC)[i] for i in range(3)]
    video, tubes = default_collate(samples)
    assert video.shape == (3, 3, FRAMES, HEIGHT, WIDTH) and isinstance(tubes, Tubelets)
    assert_fields(tubes, cat_fields([t for _, t in samples]))
    assert_fields(Tubelets.collate([t for _, t in samples]), cat_fields([t for _, t in samples]))


@pytest.mark.parametrize("as_dict", [False, True])
def test_a_dataloader_batches_tubelets(as_dict):
    data = Clips(as_dict=as_dict)
    batches = list(DataLoader(data, batch_size=2, num_workers=0))
    assert len(batches) == 3
    for start, batch in zip(range(0, 5, 2), batches):
        items = [data[i] for i in range(start, min(start + 2, 5))]
        if as_dict:
            video, tubes = batch["video"], batch["tubelets"]
            items = [(item["video"], item["tubelets"]) for item in items]
        else:
            video, tubes = batch
        assert torch.equal(video, torch.stack([clip for clip, _ in items]))
        assert_fields(tubes, cat_fields([t for _, t in items]))


def test_a_dataloader_with_workers_batches_tubelets():
    data = Clips(count=4)
    batches = list(DataLoader(data, batch_size=2, num_workers=2))
    assert len(batches) == 2
    for start, (video, tubes) in zip((0, 2), batches):
        assert tubes.batch_size == 2
        assert torch.equal(video, torch.stack([data[start][0], data[start + 1][0]]))
        assert_fields(tubes, cat_fields([data[start][1], data[start + 1][1]]))


def test_replaying_collated_tubelets_paints_what_per_clip_calls_paint():
    data = Clips()
    v2 = torch.rand(5, 3, FRAMES, HEIGHT, WIDTH, generator=torch.Generator().manual_seed(9))
    v1, tubes = next(iter(DataLoader(data, batch_size=5)))
    overlay = TubeletOverlay(KEYFRAMED)
    q, k = overlay(v1, v2, tubelets=tubes)
    per_clip = [overlay(v1[i:i + 1], v2[i:i + 1], tubelets=data[i][1]) for i in range(5)]
    assert torch.equal(q, torch.cat([qi for qi, _ in per_clip]))
    assert torch.equal(k, torch.cat([ki for _, ki in per_clip]))
    assert not torch.equal(q, v1)  # the tubelets painted something
