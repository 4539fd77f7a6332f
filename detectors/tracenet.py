"""``TraceNet``: a small patch network that reads generation traces, not content.

Why this shape (NPR, Tan et al. CVPR 2024; LaDeDa, Cavia et al. 2024): generators end in
upsampling layers whose traces live in the relations between neighbouring pixels, and those
traces are local, so a network with a small receptive field that sees only high-pass residuals
generalises across generators better than an ImageNet backbone that sees content.

- two fixed residuals per colour channel: the neighbouring-pixel residual (each pixel minus the
  top-left pixel of its 2x2 block, what nearest upsampling would have made) and a 3x3 Laplacian;
  they are a few grey levels, so they are scaled to about unit size;
- a 2x2 space-to-depth, so every 2x2 phase of the upsampling grid keeps its own channel;
- three 3x3 convolutions and two 1x1 (receptive field about 16 x 16 pixels), a logit pair at every
  position, averaged over the crop. ``local_logits`` keeps the map (``trustgen detect --map``).
torch is imported only when this module is.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: The residuals are small (a few grey levels out of 255): this brings them to about unit scale.
RESIDUAL_GAIN = 32.0


class TraceNet(nn.Module):
    def __init__(self, width: int = 32):
        super().__init__()
        lap = torch.tensor([[0.0, -1.0, 0.0], [-1.0, 4.0, -1.0], [0.0, -1.0, 0.0]]) / 4
        self.register_buffer("laplacian", lap.expand(3, 1, 3, 3).clone())
        w = width
        self.body = nn.Sequential(
            nn.Conv2d(24, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(inplace=True),
            nn.Conv2d(w, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(inplace=True),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(inplace=True),
            nn.Conv2d(2 * w, 2 * w, 1), nn.ReLU(inplace=True),
            nn.Conv2d(2 * w, 2, 1))

    def residuals(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [0, 1] with even H, W -> (N, 24, H/2, W/2)."""
        corner = x[:, :, ::2, ::2]
        npr = x - corner.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
        hp = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), self.laplacian, groups=3)
        return F.pixel_unshuffle(torch.cat([npr, hp], 1) * RESIDUAL_GAIN, 2)

    def local_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.residuals(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.local_logits(x).mean(dim=(2, 3))
