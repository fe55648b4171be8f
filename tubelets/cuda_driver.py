"""Whether this machine's NVIDIA driver and GPU can run the CUDA module ``tubelets._cuda``.

The module links the CUDA runtime statically, so the toolkit it was built with fixes the
driver it needs. By CUDA's minor version compatibility a runtime X.Y runs on any driver
for CUDA X.0 or newer; on a driver of an older major (CUDA 13 on an R550 driver, which
torch's CUDA 12 builds accept) the module imports, and the first launch fails with "CUDA
driver version is insufficient". PTX, compiled by the driver when the module loads on a
GPU that has no cubin in it, needs a driver for CUDA X.Y itself.

Versions are CUDA's integers, ``1000 * major + 10 * minor`` (12040 is CUDA 12.4), as
``cudaDriverGetVersion`` gives them: for a driver, the newest CUDA it supports, 0 if
there is no driver. Architectures are nvcc's target names: ``"sm_80"`` is a cubin,
``"compute_120"`` PTX.
"""
from __future__ import annotations

import dataclasses
import importlib
import re
from types import ModuleType

# The first Linux driver branch of each CUDA major version, for messages.
FIRST_DRIVER = {11: "R450", 12: "R525", 13: "R580"}
# An nvcc target: kind, major, minor (the last digit), arch-specific suffix ("sm_90a").
_TARGET = re.compile(r"(sm|compute)_(\d+)(\d)([a-z]?)")


def version_name(version: int) -> str:
    """``13000`` → ``"13.0"``."""
    return f"{version // 1000}.{version % 1000 // 10}"


def needed_driver(runtime: int) -> str:
    """The driver a module built with CUDA runtime ``runtime`` needs, in words."""
    major = runtime // 1000
    branch = FIRST_DRIVER.get(major)
    return f"a driver for CUDA {major}.0 or newer" + (f" ({branch}+)" if branch else "")


def driver_problem(runtime: int, driver: int) -> str | None:
    """Why a module built with CUDA runtime ``runtime`` cannot run on a driver for CUDA
    ``driver`` (0: no driver), or ``None`` if it can."""
    if driver <= 0:
        return "no NVIDIA driver was found"
    if driver // 1000 >= runtime // 1000:
        return None
    return (f"tubelets._cuda was built with CUDA {version_name(runtime)} and needs {needed_driver(runtime)}, "
            f"but this machine's driver supports CUDA {version_name(driver)}: update the "
            "driver, or reinstall tubelets against the CUDA toolkit of torch.version.cuda "
            "(see setup.py)")


def kernel_image(archs: tuple[str, ...], capability: tuple[int, int]) -> str | None:
    """The target among ``archs`` that a GPU of compute ``capability`` runs, or ``None``.

    A cubin ``sm_XY`` runs on major X from minor Y up (an arch-specific ``sm_90a`` on 9.0
    only), the newest such one first; otherwise the driver compiles the newest PTX
    ``compute_XY`` not newer than the GPU.
    """
    cubins, ptx = [], []
    for target in archs:
        parts = _TARGET.fullmatch(target)
        if parts is None:
            raise ValueError(f"not a CUDA target like sm_90 or compute_90: {target!r}")
        kind, major, minor, suffix = parts.groups()
        version = (int(major), int(minor))
        if kind == "sm" and version[0] == capability[0] and (
            version[1] == capability[1] if suffix else version[1] <= capability[1]
        ):
            cubins.append((version, target))
        elif kind == "compute" and not suffix and version <= capability:
            ptx.append((version, target))
    return max(cubins or ptx, default=(None, None))[1]


@dataclasses.dataclass(frozen=True)
class ModuleReport:
    """What ``tubelets._cuda`` was built for, and whether this machine's driver runs it."""

    archs: tuple[str, ...]  # nvcc targets built in
    runtime: int  # CUDA version of the runtime linked in
    driver: int  # CUDA version this machine's driver supports, 0 without a driver
    problem: str | None  # why the driver cannot run the module, or None

    def device_problem(self, capability: tuple[int, int]) -> str | None:
        """Why a GPU of compute ``capability`` cannot run the module here, or ``None``."""
        image = kernel_image(self.archs, capability)
        arch = f"sm_{capability[0]}{capability[1]}"
        if image is None:
            return f"tubelets._cuda has no kernel for {arch} (built for {', '.join(self.archs)})"
        if image.startswith("compute_") and self.driver < self.runtime:
            return (f"{arch} needs the PTX {image} compiled by a driver for CUDA "
                    f"{version_name(self.runtime)} or newer; this one supports {version_name(self.driver)}")
        return None

    def __str__(self) -> str:
        driver = "none" if self.driver <= 0 else f"CUDA {version_name(self.driver)}"
        verdict = "suffices" if self.problem is None else "insufficient"
        return (f"built with CUDA {version_name(self.runtime)} for {' '.join(self.archs)}, "
                f"needs {needed_driver(self.runtime)}; this machine's driver: {driver}, {verdict}")


def report(module: ModuleType) -> ModuleReport:
    """:class:`ModuleReport` of a loaded ``tubelets._cuda``."""
    runtime, driver = module.runtime_version(), module.driver_version()
    return ModuleReport(tuple(module.archs()), runtime, driver, driver_problem(runtime, driver))


def installed() -> ModuleReport | None:
    """:class:`ModuleReport` of the installed ``tubelets._cuda``, ``None`` if it does not import."""
    try:
        module = importlib.import_module("tubelets._cuda")
    except ImportError:
        return None
    return report(module)
