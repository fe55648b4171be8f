"""The paper's official transform, imported at run time from a clone of its code.

    git clone https://github.com/fmthoker/tubelet-contrast /path/to/clone
    python benchmarks/run.py --quick --official /path/to/clone

The official code has no license, so nothing of it is copied here: :func:`load` imports
its files from the clone by path, under a private package name (:data:`PACKAGE`), after
putting stand-ins into ``sys.modules`` for the one thing they import that drags in
mmcv (``pyvrl.builder.TRANSFORMS``, an mmcv ``Registry``; :class:`_Registry` stands in).
``BaseTransform`` is the clone's own (``base_transform.py`` imports only NumPy); the
``pyvrl.datasets`` package ``__init__`` is not run, as it imports every transform and
mmcv. The code also needs OpenCV, SciPy and ``imutils`` (``pip install imutils``), and
two things NumPy 2 removed: aliases such as ``np.int`` (each loaded module sees NumPy
through :func:`_numpy_with_aliases`; the process's NumPy stays untouched) and ``int()``
of a 1-element array (:func:`_angles_as_scalars`).

The transform is built with the values of the official pretraining config, read from the
clone at run time (:data:`CONFIGS`): the ``Tubelets`` entry of ``transform_cfg_2``. What
it supports follows from its code: 16-frame clips (its paths have 16 points), square
frames (bounds are checked against one side) of 112 or 224 pixels (its path scale is
drawn for these two widths only).

:meth:`Official.pair` runs it as the paper's data loader does (``MoCoDataset`` hands the
``Compose`` of ``transform_cfg_2`` the ``2·T`` frames of one pair, ``v1``'s then
``v2``'s): ``apply_image`` samples the parameters (``get_transform_param``) and pastes
(``_apply_image``), one clip pair per call.
"""
from __future__ import annotations

import importlib.util
import runpy
import sys
import types
from pathlib import Path

import numpy as np

PACKAGE = "_official_pyvrl"
"""The name the clone's ``pyvrl`` package is imported under, so it clashes with nothing."""

MODULES = [  # in import order: each needs only those above it
    "datasets.transforms.base_transform",
    "datasets.transforms.dynamic_utils",
    "models.pretraining.tubeletcontrast.utils",
    "models.pretraining.tubeletcontrast.tubelet_transformation",
    "models.pretraining.tubeletcontrast.tubelets",
]
"""The clone's modules that the transform needs, relative to ``pyvrl``."""
PACKAGES = [PACKAGE, *(f"{PACKAGE}.{name}" for name in (
    "datasets", "datasets.transforms", "models", "models.pretraining", "models.pretraining.tubeletcontrast"))]
"""The packages holding :data:`MODULES`, stood in for by empty ones."""

CONFIGS = {
    112: "configs/moco/r3d_18/pretraining_mini_kinetics.py",
    224: "configs/moco/i3d/pretraining_mini_kinetics.py",
}
"""Frame side (pixels) → the official pretraining config for it (R(2+1)D's has the same
``Tubelets`` entry as R3D's at 112 px)."""

FRAMES = 16
REQUIREMENTS = {"cv2": "opencv-python-headless", "scipy": "scipy", "imutils": "imutils"}
"""Modules the official code imports → the pip package that provides each."""


class Official:
    """The official ``Tubelets`` transform, built from the clone's pretraining config."""

    def __init__(self, clone: Path | str, frames: int, height: int, width: int):
        if frames != FRAMES or height != width or width not in CONFIGS:
            raise ValueError(f"the official transform handles {FRAMES}-frame clips of 112×112 or 224×224 "
                             f"pixels only, not {frames}×{height}×{width}")
        transform = load(clone)  # checks the configs are there too
        self.settings = config_settings(Path(clone), CONFIGS[width])
        self.transform = transform(**self.settings)

    def pair(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        """One positive pair: ``frames`` are ``2·16`` ``(H, W, C)`` arrays, ``v1``'s 16 then
        ``v2``'s; returns new frames in the same order, tubelets cut from ``v1`` pasted on both."""
        return self.transform.apply_image(frames)

    def pairs(self, frames: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
        """:meth:`pair` on each clip pair in turn, as ``DataLoader`` items are made."""
        return [self.pair(one) for one in frames]


def clip_pairs(v1: np.ndarray, v2: np.ndarray) -> list[list[np.ndarray]]:
    """Batches ``(B, T, H, W, C)`` → per pair the list of ``2·T`` frames :meth:`Official.pair` takes."""
    return [[*a, *b] for a, b in zip(v1, v2)]


def load(clone: Path | str) -> type:
    """The ``Tubelets`` class of the official code, imported from the clone at ``clone``.

    Raises ``FileNotFoundError`` naming ``clone`` and the missing files (modules or
    :data:`CONFIGS`) when it is not a (sufficiently checked-out) clone, and
    ``ModuleNotFoundError`` when a requirement is missing.
    """
    clone = Path(clone).expanduser().resolve()
    files = {name: clone / "pyvrl" / (name.replace(".", "/") + ".py") for name in MODULES}
    needed = [*files.values(), *(clone / config for config in CONFIGS.values())]
    missing = [str(path.relative_to(clone)) for path in needed if not path.is_file()]
    if missing:
        raise FileNotFoundError(
            f"{clone} is not a clone of github.com/fmthoker/tubelet-contrast: it has no {', '.join(missing)} "
            f"(in a partial checkout, run `git checkout HEAD -- pyvrl configs` there)")
    for module, package in REQUIREMENTS.items():
        if importlib.util.find_spec(module) is None:
            raise ModuleNotFoundError(f"the official transform imports {module}: pip install {package}")
    if PACKAGE in sys.modules:
        if sys.modules[PACKAGE].clone != clone:
            raise RuntimeError(f"the official code is already loaded from {sys.modules[PACKAGE].clone}")
        return sys.modules[f"{PACKAGE}.{MODULES[-1]}"].Tubelets
    try:
        _stub_packages(clone)
        for name in MODULES:
            module = _import_file(f"{PACKAGE}.{name}", files[name])
            if name == MODULES[0]:  # what `from ....datasets import BaseTransform` finds
                sys.modules[f"{PACKAGE}.datasets"].BaseTransform = module.BaseTransform
        _angles_as_scalars(sys.modules[f"{PACKAGE}.{MODULES[3]}"])
    except BaseException:
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]
        raise
    return module.Tubelets


def config_settings(clone: Path, config: str) -> dict:
    """The keyword arguments of the ``Tubelets`` entry of ``transform_cfg_2`` in the clone's
    ``config`` (a Python file of plain dicts, run as mmcv runs it)."""
    steps = runpy.run_path(str(Path(clone) / config))["data"]["train"]["transform_cfg_2"]
    entry = next(step for step in steps if step["type"] == "Tubelets")
    return {key: value for key, value in entry.items() if key != "type"}


class _Registry:
    """Stands in for mmcv's ``Registry``: ``@TRANSFORMS.register_module()`` leaves the class as it is."""

    def register_module(self):
        return lambda cls: cls


def _stub_packages(clone: Path) -> None:
    """Empty packages for ``pyvrl`` and the folders of :data:`MODULES` (their ``__init__``
    files import mmcv and every model), and ``pyvrl.builder`` with ``TRANSFORMS``. The top
    package records ``clone``."""
    for package in PACKAGES:
        module = types.ModuleType(package)
        module.__path__ = []  # a package, whose submodules are only the ones loaded by path
        sys.modules[package] = module
    sys.modules[PACKAGE].clone = clone
    builder = types.ModuleType(f"{PACKAGE}.builder")
    builder.TRANSFORMS = _Registry()
    sys.modules[builder.__name__] = builder


def _import_file(name: str, path: Path) -> types.ModuleType:
    """Import the file at ``path`` as module ``name`` (its relative imports resolve in ``PACKAGE``)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    module.np = _numpy_with_aliases()  # replaces its `import numpy as np`; functions read it at call time
    return module


def _angles_as_scalars(rotation: types.ModuleType) -> None:
    """``tubelet_rotation`` takes ``int()`` of each angle, a 1-element array of shape
    ``(1,)``, which NumPy 2 refuses: give it the same angles without their last axis."""
    angles = rotation.get_rotation_angles
    rotation.get_rotation_angles = lambda *args: angles(*args)[..., 0]


def _numpy_with_aliases() -> types.ModuleType:
    """NumPy's namespace plus the builtin aliases NumPy 2 removed (``np.int`` is ``int``)."""
    module = types.ModuleType("numpy")
    module.__dict__.update(vars(np))
    module.__dict__.update(int=int, float=float, bool=bool, object=object)
    return module
