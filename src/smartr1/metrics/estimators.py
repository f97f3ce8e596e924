"""Histogram and Bernoulli log-likelihood estimators (agent-level, independent timesteps).

For each evaluated object the R x 80 simulated values form one histogram. Sim samples are NOT
filtered by validity and NaN samples (the padded last steps of speeds/accelerations) count in the
last bin, exactly like the official estimator.
"""

from __future__ import annotations

import numpy as np
import torch

from smartr1.metrics.config import FeatureConfig


def bin_edges(cfg: FeatureConfig, device: torch.device | str = "cpu") -> torch.Tensor:
    """f32 edges min + b·δ with δ = (max − min)/B computed in f32 (torch.linspace is 1 ulp off)."""
    lo, hi = np.float32(cfg.min), np.float32(cfg.max)
    delta = np.float32((hi - lo) / np.float32(cfg.num_bins))
    edges = [lo] + [np.float32(lo + np.float32(b) * delta) for b in range(1, cfg.num_bins)] + [hi]
    return torch.tensor(np.array(edges, np.float32), device=device)


def bin_index(values: torch.Tensor, cfg: FeatureConfig) -> torch.Tensor:
    """Bin of each value: [e_b, e_b+1), last bin closed, values clipped into range, NaN -> last bin."""
    edges = bin_edges(cfg, values.device)
    b = cfg.num_bins
    clipped = values.clamp(float(edges[0]), float(edges[-1]))
    idx = (torch.searchsorted(edges, clipped.contiguous(), right=True) - 1).clamp(0, b - 1)
    return torch.where(torch.isnan(values), torch.full_like(idx, b - 1), idx)


def histogram_log_probs(sim: torch.Tensor, cfg: FeatureConfig, sample_dims: tuple[int, ...]) -> torch.Tensor:
    """log p[bin] per histogram: sim values reduced over `sample_dims` -> [..., B] (smoothed, f32)."""
    idx = bin_index(sim, cfg)
    onehot = torch.nn.functional.one_hot(idx, cfg.num_bins).to(torch.float32)
    return smoothed_log_probs(onehot.sum(dim=sample_dims), cfg)


def smoothed_log_probs(counts: torch.Tensor, cfg: FeatureConfig) -> torch.Tensor:
    """log p[bin] from f32 bin counts [..., B] with the config's pseudocount: shared with callers that
    count differently (leave-one-out credit subtracts one rollout's counts), so the smoothing is one rule."""
    return torch.log_softmax(torch.log(counts + np.float32(cfg.pseudocount)), dim=-1)


def histogram_loglik(log: torch.Tensor, sim: torch.Tensor, cfg: FeatureConfig) -> torch.Tensor:
    """Per-step log-likelihood of the log under each object's sim histogram.

    log: [..., E, T]; sim: [..., R, E, T] -> [..., E, T].
    """
    logp = histogram_log_probs(sim, cfg, sample_dims=(-4, -2))  # [..., E, B]
    idx = bin_index(log, cfg)
    return logp.gather(-1, idx)


def bernoulli_loglik(log: torch.Tensor, sim: torch.Tensor, cfg: FeatureConfig) -> torch.Tensor:
    """Per-object log-likelihood of a boolean indicator. log: [..., E] bool; sim: [..., R, E] bool."""
    vals = sim.to(torch.float32)[..., None]  # [..., R, E, 1]
    logp = histogram_log_probs(vals, cfg, sample_dims=(-4, -2))  # [..., E, 2]
    return logp.gather(-1, log.long()[..., None]).squeeze(-1)
