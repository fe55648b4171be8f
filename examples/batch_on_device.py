"""Tubelets on a collated batch, on the GPU when there is one: the whole batch in one call.

Sampling runs on the batch's device and compositing picks the fastest backend there
(``tubelets info`` lists them). Run: ``python examples/batch_on_device.py``.
"""
import torch

from tubelets import TubeletOverlay
from tubelets.video import bundled_clip, read_clip

device = "cuda" if torch.cuda.is_available() else "cpu"
v1 = torch.stack([read_clip(bundled_clip("bikes.mp4"), start=16 * i) for i in range(4)]).to(device)
v2 = torch.stack([read_clip(bundled_clip("bigbuckbunny.mp4"), start=16 * i) for i in range(4)]).to(device)

overlay = TubeletOverlay(num_tubelets=2, motion="nonlinear", transforms=("rotation",))
q, k, tubes = overlay(v1, v2, return_tubelets=True)

# The raw motion rides along: per-frame centres (pixels) and angles (degrees), e.g. for captions.
x, y = tubes.centers[0, 0, -1].tolist()
print(f"{device}: clip 0, tubelet 0 ends at ({x:.0f}, {y:.0f}) px, "
      f"turned {tubes.angles[0, 0, -1].item():+.0f}° with boxes {tuple(tubes.frame_boxes(112, 112).shape)}")
