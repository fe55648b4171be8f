"""Adapters that put tubelets inside other libraries' augmentation pipelines.

* :mod:`tubelets.integrations.torchvision`: ``TubeletTransform``, a
  ``torchvision.transforms.v2`` transform for samples holding one ``tv_tensors.Video`` or a
  pair of them, ``(..., T, C, H, W)``.
* :mod:`tubelets.integrations.kornia`: ``RandomTubelets3D``, a kornia 3D augmentation for
  ``kornia.augmentation.AugmentationSequential`` on ``(B, C, T, H, W)``, with kornia's
  parameter replay.

Each module imports its host library when it is itself imported; ``import tubelets`` and
``import tubelets.integrations`` import neither torchvision nor kornia.
"""
