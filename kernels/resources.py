"""Registers and spills of the Triton kernels, compiled ahead of time; no GPU needed.

``python -m tubelets.kernels.resources`` prints one row per (dtype, arch) for the paint
kernel and one per (motion, arch) for the sampler: the numbers
``cuobjdump --dump-resource-usage`` (bundled with Triton) reads from the cubin.
Needs ``TRITON_INTERPRET`` unset, since the interpreter replaces the compiled kernel.
"""
from __future__ import annotations

import re
import subprocess
import sys
import tempfile

import torch
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from . import composite, sampler

POINTER_TYPES = {torch.uint8: "*u8", torch.float16: "*fp16", torch.bfloat16: "*bf16", torch.float32: "*fp32"}
# V100 (70; Triton's own ptxas still builds it, CUDA 13's nvcc does not), T4 (75), A100 (80),
# RTX 30 (86), L4 (89), H100 (90), B200 (100), RTX 50 (120); Triton compiles 90 and up as sm_XXa.
ARCHS = (70, 75, 80, 86, 89, 90, 100, 120)

_PARAMETER_TYPES = {
    "inv_affine_ptr": "*fp32", "opacity_ptr": "*fp32", "src_box_ptr": "*i32",
    "src_frame_ptr": "*i32", "shape_ptr": "*i32", "softness_ptr": "*fp32", "masks_ptr": "*i8",
}
VARIANTS = {"paint": (False, False), "masks+alpha": (True, True)}
"""Kernel variants compiled: name → (MASKS, SOURCE_ALPHA): plain painting, and painting
that also writes masks from a source with an alpha channel (sprites)."""
VARIANT_DTYPES = {"paint": tuple(POINTER_TYPES), "masks+alpha": (torch.uint8, torch.float32)}
_VIDEO_POINTERS = ("out_ptr", "in_ptr", "source_ptr")
_USAGE = re.compile(r"REG:(\d+) STACK:(\d+) SHARED:(\d+) LOCAL:(\d+)")


def compile_paint_kernel(dtype: torch.dtype, arch: int, channels: int = 3, variant: str = "paint"):
    """``triton.compile`` of :func:`composite.paint_kernel` for ``sm_{arch}``.

    Specialised as the JIT specialises a typical launch: 16-byte aligned pointers, 32-bit
    sizes and strides, unit stride along rows, out of place; ``variant`` is one of
    :data:`VARIANTS`.
    """
    masks, source_alpha = VARIANTS[variant]
    kernel = composite.paint_kernel
    if not isinstance(kernel, triton.runtime.JITFunction):
        raise RuntimeError("the kernel is interpreted; unset TRITON_INTERPRET to compile it")
    constants = {
        "IN_PLACE": False, "PIXELS": True, "MASKS": masks, "SOURCE_ALPHA": source_alpha,
        "ALPHA_UNIT": 255.0 if dtype == torch.uint8 else 1.0, "C_BLOCK": triton.next_power_of_2(channels),
        "BLOCK_H": composite.BLOCK_H, "BLOCK_W": composite.BLOCK_W,
        **{f"{video}_sw": 1 for video in ("out", "in", "source")},
    }
    pointers = {**{name: POINTER_TYPES[dtype] for name in _VIDEO_POINTERS}, **_PARAMETER_TYPES}
    signature = {
        name: "constexpr" if name in constants else pointers.get(name, "i32") for name in kernel.arg_names
    }
    aligned = {(kernel.arg_names.index(name),): [["tt.divisibility", 16]] for name in pointers}
    return triton.compile(
        ASTSource(kernel, signature, constants, aligned),
        target=GPUTarget("cuda", arch, 32),
        options={"num_warps": composite.NUM_WARPS, "enable_fp_fusion": False},
    )


def compile_sample_kernel(motion: int, arch: int, frames: int = 16, count: int = 2, points: int = 48):
    """``triton.compile`` of :func:`sampler.sample_kernel` for ``sm_{arch}``, as
    :func:`sampler.sample_` launches it for ``count`` tubelets on ``frames`` frames with
    every transform and shape (``motion``: 0 static, 1 linear, 2 non-linear), linear
    interpolation and a count per clip drawn from ``1 … count``."""
    kernel = sampler.sample_kernel
    if not isinstance(kernel, triton.runtime.JITFunction):
        raise RuntimeError("the kernel is interpreted; unset TRITON_INTERPRET to compile it")
    constants = {
        "MOTION": motion, "ROTATION": True, "SCALE": True, "SHEAR": True, "KEYFRAMES": 3, "POINTS": points,
        "SHAPE_0": 0, "SHAPE_1": 1, "SHAPE_2": 2, "NUM_SHAPES": 3, "M_BLOCK": triton.next_power_of_2(count),
        "T_BLOCK": triton.next_power_of_2(frames), "N_BLOCK": triton.next_power_of_2(points) if motion == 2 else 1,
        "SAME_ON_BATCH": False, "INTERPOLATION": 0, "NUM_ANCHORS": 0, "OPACITY_KEYS": False, "SQUARE": False,
        "WALK": False,
    }
    pointers = {
        "seed_ptr": "*i64", "ranges_ptr": "*fp64", "matrix_ptr": "*fp64", "src_box_ptr": "*i32",
        "src_frame_ptr": "*i32", "shape_ptr": "*i32", "motion_times_ptr": "*i64", "transform_times_ptr": "*i64",
    }
    signature = {
        name: "constexpr" if name in constants else pointers.get(name, "*fp32" if name.endswith("_ptr") else "i32")
        for name in kernel.arg_names
    }
    aligned = {(kernel.arg_names.index(name),): [["tt.divisibility", 16]] for name in kernel.arg_names
               if name.endswith("_ptr")}
    return triton.compile(
        ASTSource(kernel, signature, constants, aligned),
        target=GPUTarget("cuda", arch, 32),
        options={"num_warps": sampler.NUM_WARPS, "enable_fp_fusion": False},
    )


def resource_usage(dtype: torch.dtype, arch: int, channels: int = 3, variant: str = "paint") -> dict[str, int]:
    """``{"registers", "stack", "shared", "local"}`` per thread (bytes but registers) on
    ``sm_{arch}``, for the paint kernel."""
    return _usage(compile_paint_kernel(dtype, arch, channels, variant).asm["cubin"])


def sampler_usage(motion: int, arch: int) -> dict[str, int]:
    """:func:`resource_usage`'s numbers for :func:`compile_sample_kernel`."""
    return _usage(compile_sample_kernel(motion, arch).asm["cubin"])


def _usage(cubin: bytes) -> dict[str, int]:
    with tempfile.NamedTemporaryFile(suffix=".cubin") as file:
        file.write(cubin)
        file.flush()
        report = subprocess.run(
            [triton.knobs.nvidia.cuobjdump.path, "--dump-resource-usage", file.name],
            capture_output=True, text=True, check=True,
        ).stdout
    match = _USAGE.search(report)
    if match is None:
        raise RuntimeError(f"cannot parse cuobjdump's report:\n{report}")
    return dict(zip(("registers", "stack", "shared", "local"), map(int, match.groups())))


def table() -> list[dict[str, object]]:
    """One row per (variant, dtype, arch) with :func:`resource_usage`'s numbers."""
    return [
        {"variant": variant, "dtype": str(dtype).removeprefix("torch."), "arch": f"sm_{arch}",
         **resource_usage(dtype, arch, variant=variant)}
        for variant, dtypes in VARIANT_DTYPES.items() for dtype in dtypes for arch in ARCHS
    ]


SAMPLER_ARCHS = (80, 90)  # A100, H100: each motion compiles its own float64 kernel, so two archs


def sampler_table(archs: tuple[int, ...] = SAMPLER_ARCHS) -> list[dict[str, object]]:
    """One row per (motion, arch) with :func:`sampler_usage`'s numbers."""
    return [
        {"motion": motion, "arch": f"sm_{arch}", **sampler_usage(code, arch)}
        for code, motion in enumerate(("static", "linear", "nonlinear")) for arch in archs
    ]


def main() -> None:
    for rows in (table(), sampler_table()):
        columns = list(rows[0])
        sys.stdout.write("\t".join(columns) + "\n")
        for row in rows:
            sys.stdout.write("\t".join(str(row[c]) for c in columns) + "\n")


if __name__ == "__main__":
    main()
