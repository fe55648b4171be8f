"""The Triton sampler (``kernels/sampler.py``) against the reference sampler, without a GPU.

The kernel calls Triton's own ``@triton.jit`` helpers, which the interpreter runs only if
``TRITON_INTERPRET=1`` was set before Triton was imported, so the interpreted checks run
in one child process that sets it (:func:`interpreted_results`) and the build check in one
that unsets it, whatever the environment pytest started in.
"""
from __future__ import annotations

import functools
import json
from unittest import mock

import pytest
import torch

from helpers import run_python

from tubelets import TubeletConfig, native, sample_tubelets, sampling
from tubelets.philox import Stream

pytest.importorskip("triton")

# (config, (T, H, W), seed) for batches of 2 clips: every motion, each transform alone and
# all together, shape subsets, p < 1, no tubelets, K > T, and odd, 1-pixel and 1-frame sizes.
CONFIGS = {
    "paper": "TubeletConfig()",
    "linear-all": "TubeletConfig(motion='linear', transforms=('scale', 'rotation', 'shear'), keyframes=4)",
    "static-p": "TubeletConfig(motion='static', num_tubelets=5, p=0.5, shapes=('ellipse', 'rhombus'), "
                "softness=(0.0, 0.4), opacity=(0.3, 1.0))",
    "none": "TubeletConfig(num_tubelets=0)",
    "nonlinear-short": "TubeletConfig(nonlinear_points=2, nonlinear_sigma=0.5, patch_size=(0.9, 1.0), "
                       "transforms=('shear',))",
    "linear-many-keys": "TubeletConfig(motion='linear', keyframes=100, transforms=('scale',), shapes=('rhombus',))",
    "counts-random": "TubeletConfig(motion='linear', num_tubelets=(0, 5), interpolation='random', "
                     "transforms=('scale', 'rotation', 'shear'))",
    "same-accelerate": "TubeletConfig(motion='linear', num_tubelets=(2, 3), same_on_batch=True, "
                       "interpolation='accelerate', p=0.5)",
    "decelerate": "TubeletConfig(num_tubelets=(1, 2), interpolation='decelerate', transforms=('shear',))",
    "paper-linear": "TubeletConfig.paper_linear()",
    "official": "TubeletConfig.official_code()",
    "official-fields": "TubeletConfig(motion='linear', transforms=('rotation', 'scale'), keyframes=4, "
                       "rotation_step=2.5, opacity_keyframes=True, opacity=(0.2, 0.9), patch_scales=(0.3, 0.5), "
                       "patch_ratios=(0.8,), softness=(0.0, 1.0), softness_p=0.3, interpolation='decelerate')",
}
CASES = [
    ("paper", (16, 112, 112), 0), ("paper", (2, 30, 17), 2**62 + 12345), ("paper", (1, 7, 9), 3),
    ("linear-all", (16, 112, 112), 1), ("linear-all", (5, 1, 1), 4), ("linear-all", (1, 7, 9), 5),
    ("static-p", (3, 30, 17), 6), ("static-p", (2, 1, 1), 7),
    ("none", (4, 8, 8), 8),
    ("nonlinear-short", (9, 13, 1), 9), ("nonlinear-short", (16, 112, 112), 2**63 - 1),
    ("linear-many-keys", (8, 20, 20), 10), ("linear-many-keys", (33, 5, 3), 11),
    ("counts-random", (16, 112, 112), 12), ("counts-random", (1, 7, 9), 13),
    ("same-accelerate", (16, 40, 52), 14), ("decelerate", (9, 13, 11), 15),
    ("paper-linear", (16, 112, 112), 16), ("official", (16, 112, 112), 17), ("official", (16, 224, 224), 18),
    ("official", (1, 7, 9), 19), ("official-fields", (12, 30, 17), 20), ("official-fields", (2, 5, 3), 21),
]

CHILD = """
import dataclasses, functools, json, sys, torch
import tubelets.overlay
from tubelets import TubeletConfig, TubeletOverlay, sample_tubelets
from tubelets.profiling import count_dispatches
results = {"cases": {}, "counts": {}}
for name, config, size, seed in json.loads(sys.argv[1]):
    config, seed = eval(config), torch.tensor(seed - 2**64 if seed >= 2**63 else seed)
    expected = sample_tubelets(config, 2, *size, seed=seed, backend="torch")
    actual = sample_tubelets(config, 2, *size, seed=seed, backend="triton")
    problems, worst = [], 0.0
    for field in dataclasses.fields(expected):
        e, a = getattr(expected, field.name), getattr(actual, field.name)
        if e is None or a is None:
            problems += [] if e is a else [field.name]
        elif a.shape != e.shape or a.dtype != e.dtype:
            problems.append(f"{field.name}: {a.dtype} {tuple(a.shape)}, expected {e.dtype} {tuple(e.shape)}")
        elif e.dtype.is_floating_point:
            difference = (a.double() - e.double()).abs().max().item() if e.numel() else 0.0
            worst = max(worst, difference)
            problems += [] if difference <= 1e-5 else [f"{field.name}: |difference| {difference}"]
        elif not torch.equal(a, e):
            problems.append(f"{field.name}: {a.flatten()[:8].tolist()}, expected {e.flatten()[:8].tolist()}")
    results["cases"][name] = {"problems": problems, "worst": worst}

# The overlay samples with sample_tubelets' auto choice, which takes the C++ sampler for CPU
# tensors; on CUDA it is the Triton one, which this stands in for.
tubelets.overlay.sample_tubelets = functools.partial(sample_tubelets, backend="triton")
for mode, overlay in (("", TubeletOverlay(backend="triton")), ("-inplace", TubeletOverlay(backend="triton", inplace=True))):
    for batch in (1, 2):
        v1, v2 = (torch.randint(0, 256, (batch, 3, 4, 9, 20), dtype=torch.uint8) for _ in range(2))
        for pair, call in (("pair", lambda: overlay(v1, v2)), ("single", lambda: overlay(v1))):
            call()
            counts = count_dispatches(call)
            results["counts"][f"{pair}-B{batch}{mode}"] = {"kernels": counts.kernels, "syncs": counts.syncs,
                                                           "ops": dict(counts.ops), "text": str(counts)}

seed = torch.tensor(12345)
ranges = [0.1, 0.5, 0.3, 0.7, 0.3, 1.0, 0.5, 1.5, -90.0, 90.0, -1.0, 1.0, 1.0, 1.0, 0.0, 0.0]
args = (seed, [1, 2, 3, 6, 5], 1, [True, True, False], 3, 4, 1.0, [0, 2], ranges, 0.5, [1, 0, 3, 1, 0, 1],
        [0.5, 0.1, 6.0, 0.2, 0.3, 0.4, 0.1])
results["opcheck"] = {name: str(outcome) for name, outcome in
                      torch.library.opcheck(torch.ops.tubelets.sample_triton.default, args).items()}
print(json.dumps(results))
"""




@functools.cache
def interpreted_results() -> dict:
    """Parity per case, dispatch counts per overlay call and opcheck, from one interpreted child."""
    cases = [(f"{name}-{size}-{seed}", CONFIGS[name], size, seed) for name, size, seed in CASES]
    child = run_python(CHILD, json.dumps(cases), interpret=True)
    if child.returncode:
        pytest.fail(f"the interpreted child failed:\n{child.stderr[-6000:]}")
    return json.loads(child.stdout.splitlines()[-1])


@pytest.mark.skipif(native._C is None, reason=f"{native.CPU_UNAVAILABLE}")
@pytest.mark.parametrize("name, size, seed", CASES, ids=lambda value: str(value))
def test_interpreter_matches_the_reference(name, size, seed):
    """Every field; integers exactly, floats within 1e-5 (both work in float64)."""
    result = interpreted_results()["cases"][f"{name}-{size}-{seed}"]
    assert result["problems"] == [], result


@pytest.mark.skipif(native._C is None, reason=f"{native.CPU_UNAVAILABLE}")
@pytest.mark.parametrize("call", [f"{pair}-B{batch}{mode}" for mode in ("", "-inplace")
                                  for batch in (1, 2) for pair in ("pair", "single")])
def test_an_overlay_call_on_the_triton_path_dispatches_few_ops_and_never_syncs(call):
    """Issue 8: ≤ 12 kernel-like ops and 0 host syncs, with both the sampler and the paint in Triton."""
    counts = interpreted_results()["counts"][call]
    assert counts["ops"].get("tubelets::sample_triton") == 1 and "tubelets::paint_" in counts["ops"], counts
    assert counts["kernels"] <= 12 and counts["syncs"] == 0, counts["text"]


@pytest.mark.skipif(native._C is None, reason=f"{native.CPU_UNAVAILABLE}")
def test_opcheck():
    assert set(interpreted_results()["opcheck"].values()) == {"SUCCESS"}, interpreted_results()["opcheck"]


def test_streams_are_numbered_as_in_philox():
    from tubelets.kernels import sampler

    renamed = {"ROTATION": "ROTATION_VALUES", "SCALE": "SCALE_VALUES", "SHEAR": "SHEAR_VALUES"}
    for stream in Stream:
        assert getattr(sampler, renamed.get(stream.name, stream.name)).value == stream, stream.name


def test_auto_takes_triton_for_cuda_tensors_only():
    with mock.patch("tubelets.ops.unavailable", lambda backend, device: None):
        assert sampling.resolve_sampler("auto", torch.device("cuda")) == "triton"
        expected = "torch" if native._C is None else "cpu"
        assert sampling.resolve_sampler("auto", torch.device("cpu")) == expected
    with mock.patch("tubelets.ops.unavailable", lambda backend, device: "no Triton here"):
        assert sampling.resolve_sampler("auto", torch.device("cuda")) == "torch"
        with pytest.raises(RuntimeError, match="sampler 'triton' cannot sample on cpu: no Triton here"):
            sample_tubelets(TubeletConfig(), 1, 2, 8, 8, seed=torch.tensor(1), backend="triton")


def test_info_names_the_sampler(capsys):
    from tubelets.__main__ import info

    info()
    expected = "torch" if native._C is None else "cpu"
    assert f"  sampler: auto → {expected} (of torch, cpu, triton)" in capsys.readouterr().out


@functools.cache
def resource_table() -> list[dict]:
    """:func:`tubelets.kernels.resources.sampler_table`, computed in a process that compiles."""
    code = "import json; from tubelets.kernels import resources; print(json.dumps(resources.sampler_table((90,))))"
    child = run_python(code, interpret=False)
    if child.returncode:
        pytest.fail(f"compiling the Triton sampler failed:\n{child.stderr}")
    return json.loads(child.stdout)


@pytest.mark.parametrize("motion", ["static", "linear", "nonlinear"])
def test_compiles_for_sm90_without_spills(motion):
    """Spills would grow the stack past the 40 bytes of libdevice's float64 sin/cos argument
    reduction (they do from 64 frames: 88 bytes with linear motion)."""
    rows = [row for row in resource_table() if row["motion"] == motion and row["arch"] == "sm_90"]
    assert len(rows) == 1
    assert rows[0]["local"] == 0 and rows[0]["stack"] <= 40, rows[0]
    assert 0 < rows[0]["registers"] <= 128, rows[0]
