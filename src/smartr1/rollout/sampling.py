"""Token sampling: top-k / temperature, driven by explicit uniforms so results are reproducible.

Uniforms are drawn per scenario from a generator seeded by (seed, scenario id) and only for that
scenario's simulated agents, so a scenario's rollouts do not depend on which other scenarios or how
much padding share its batch.
"""

from __future__ import annotations

import zlib

import torch


def scenario_seed(seed: int, scenario_id: str) -> int:
    return zlib.crc32(f"{int(seed)}/{scenario_id}".encode()) & 0x7FFFFFFF


def scenario_generators(seed: int, scenario_ids: list[str]) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(scenario_seed(seed, sid)) for sid in scenario_ids]


def draw_uniforms(generators: list[torch.Generator], mask: torch.Tensor, rollouts: int) -> torch.Tensor:
    """[B, R, A] uniforms in [0, 1): scenario b's generator fills its masked agents (mask [B, A]),
    in agent order; other entries are 0.5."""
    b, a = mask.shape
    out = torch.full((b, rollouts, a), 0.5)
    for i, g in enumerate(generators):
        idx = torch.nonzero(mask[i].cpu()).flatten()
        if idx.numel():
            out[i][:, idx] = torch.rand(rollouts, idx.numel(), generator=g)
    return out.to(mask.device)


# Sampling among the 20 most likely tokens: with 5, closed-loop agents slowed to a standstill (moving
# vehicles at 0.22 of their logged speed after 8 s, minADE 4.83 m); the full softmax drifts off
# the road (meta-metric 0.537). Evidence: benchmarks/results/stalling.md.
DEFAULT_TOP_K = 20


def sample_top_k(
    logits: torch.Tensor, uniform: torch.Tensor, top_k: int = DEFAULT_TOP_K, temperature: float = 1.0
) -> torch.Tensor:
    """Inverse-CDF sampling among the top_k logits at a temperature: logits [..., V], uniform [...] -> [...].

    top_k <= 1 or temperature <= 0 is greedy.
    """
    if top_k <= 1 or temperature <= 0:
        return logits.argmax(-1)
    vals, idx = torch.topk(logits, min(top_k, logits.shape[-1]), dim=-1)  # sorted descending
    probs = torch.softmax(vals.float() / temperature, dim=-1)
    cdf = probs.cumsum(-1)
    u = (uniform.to(cdf.dtype) * cdf[..., -1]).unsqueeze(-1).contiguous()
    choice = torch.searchsorted(cdf.contiguous(), u, right=True).clamp(max=vals.shape[-1] - 1)
    return idx.gather(-1, choice).squeeze(-1)
