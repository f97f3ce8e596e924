"""Fourier features of a few continuous scalars, followed by a small MLP.

Relative poses (metres, radians, slots) are smooth but span several scales; learned frequencies let the
network pick the scales it needs (as in SMART / QCNet). One MLP over the concatenated features of all
inputs keeps the per-edge cost low, which dominates closed-loop rollout time on CPU.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class FourierEmbedding(nn.Module):
    """[..., in_dim] -> [..., out_dim]: cat(cos(2 pi f x), sin(2 pi f x), x) per input, then an MLP."""

    def __init__(self, in_dim: int, bands: int, hidden: int, out_dim: int):
        super().__init__()
        self.in_dim = in_dim
        self.bands = bands
        self.freqs = nn.Parameter(torch.randn(in_dim, bands))
        self.mlp = nn.Sequential(
            nn.Linear(in_dim * (2 * bands + 1), hidden),
            nn.LayerNorm(hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, out_dim),
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """[..., in_dim] -> [..., in_dim * (2 * bands + 1)] raw Fourier features."""
        ang = (2.0 * math.pi) * x.unsqueeze(-1) * self.freqs  # [..., in_dim, bands]
        feats = torch.cat([ang.cos(), ang.sin(), x.unsqueeze(-1)], dim=-1)
        return feats.flatten(-2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.features(x))
