"""Edge-aware attention over a fixed number of neighbours per query, and bounded-memory neighbour search.

Every query attends to at most K neighbours, gathered into dense [N, K, ...] tensors with a validity
mask. Dense padded neighbour sets are cheaper on CPU than scatter-softmax over a sparse edge list and
make memory a known function of N * K. Relative pose encodings are added to keys and values; the
update is a gated residual (the gate decides how much of the aggregated message replaces the node's
own projection) followed by a feed-forward block; both are pre-norm.
"""

from __future__ import annotations

import torch
from torch import nn

# Query chunks are sized so that one chunk's dense distance matrix holds at most this many entries.
MAX_DISTANCE_ENTRIES = 1 << 22


class EdgeAttentionBlock(nn.Module):
    """One attention + FFN block. Queries x [N, D]; per query K neighbours with keys/values
    (already projected, [N, K, I]), relative encodings rel_k / rel_v [N, K, I] and a mask [N, K]."""

    def __init__(self, dim: int, heads: int, head_dim: int, ff_mult: int = 4, dropout: float = 0.1):
        super().__init__()
        inner = heads * head_dim
        self.heads, self.head_dim, self.inner = heads, head_dim, inner
        self.scale = head_dim**-0.5
        self.norm_q = nn.LayerNorm(dim)
        self.norm_kv = nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, inner)
        self.to_kv = nn.Linear(dim, 2 * inner)
        self.to_self = nn.Linear(dim, inner)
        self.to_gate = nn.Linear(inner + dim, inner)
        self.to_out = nn.Linear(inner, dim)
        self.norm_ff = nn.LayerNorm(dim)
        self.ff = nn.Sequential(
            nn.Linear(dim, ff_mult * dim),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(ff_mult * dim, dim),
        )
        self.drop = nn.Dropout(dropout)

    def project_kv(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Source nodes [..., D] -> keys, values [..., I] (cacheable: they depend on the source only)."""
        k, v = self.to_kv(self.norm_kv(src)).chunk(2, dim=-1)
        return k, v

    def forward(
        self,
        x: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        rel_k: torch.Tensor,
        rel_v: torch.Tensor,
        mask: torch.Tensor,
    ) -> torch.Tensor:
        n, kn = mask.shape
        h, d = self.heads, self.head_dim
        xn = self.norm_q(x)
        q = self.to_q(xn).view(n, 1, h, d)
        kk = (k + rel_k).view(n, kn, h, d)
        vv = (v + rel_v).view(n, kn, h, d)
        score = (q * kk).sum(-1) * self.scale  # [N, K, H]
        m = mask.unsqueeze(-1)
        score = score.masked_fill(~m, -1e9)
        # Masked rows get zero weights (not NaN) so that a query without neighbours aggregates nothing.
        attn = torch.softmax(score, dim=1) * m
        agg = (attn.unsqueeze(-1) * vv).sum(1).reshape(n, h * d)
        gate = torch.sigmoid(self.to_gate(torch.cat([agg, xn], dim=-1)))
        upd = agg + gate * (self.to_self(xn) - agg)
        x = x + self.drop(self.to_out(upd))
        return x + self.drop(self.ff(self.norm_ff(x)))


def neighbours_within(
    query_xy: torch.Tensor,
    key_xy: torch.Tensor,
    key_mask: torch.Tensor,
    radius: float,
    k: int,
    query_mask: torch.Tensor | None = None,
    exclude_self: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The (at most) k nearest valid keys within radius of each query, per batch row.

    query_xy [B, Q, 2], key_xy [B, K, 2], key_mask [B, K], query_mask [B, Q]. exclude_self assumes
    queries and keys are the same set (Q == K). Returns idx [B, Q, k'] long and valid [B, Q, k'] bool
    with k' = min(k, K); invalid slots point at key 0. Queries are processed in chunks so that memory
    stays bounded for large scenes.
    """
    b, nq, _ = query_xy.shape
    nk = key_xy.shape[1]
    kk = min(k, nk)
    idx = torch.zeros(b, nq, kk, dtype=torch.long, device=query_xy.device)
    valid = torch.zeros(b, nq, kk, dtype=torch.bool, device=query_xy.device)
    if kk == 0 or nq == 0 or b == 0:
        return idx, valid
    chunk = max(1, MAX_DISTANCE_ENTRIES // max(1, b * nk))
    r2 = radius * radius
    for s in range(0, nq, chunk):
        e = min(nq, s + chunk)
        d2 = (query_xy[:, s:e, None, :] - key_xy[:, None, :, :]).square().sum(-1)  # [B, c, K]
        ok = key_mask[:, None, :] & (d2 <= r2)
        if query_mask is not None:
            ok = ok & query_mask[:, s:e, None]
        if exclude_self:
            ar = torch.arange(s, e, device=d2.device)
            ok[:, ar - s, ar] = False
        d2 = d2.masked_fill(~ok, float("inf"))
        dist, ix = torch.topk(d2, kk, dim=-1, largest=False, sorted=False)
        idx[:, s:e] = ix
        valid[:, s:e] = torch.isfinite(dist)
    idx = idx.masked_fill(~valid, 0)
    return idx, valid


def gather_rows(src: torch.Tensor, idx: torch.Tensor, row: torch.Tensor | None = None) -> torch.Tensor:
    """src [S, K, F] gathered at idx [B, Q, N] -> [B, Q, N, F].

    Batch row b reads source row `row[b]` (default b): rollouts share their scenario's map tensors.
    """
    s, nk, f = src.shape
    b = idx.shape[0]
    if row is None:
        row = torch.arange(b, device=idx.device)
    flat = (row.view(b, 1, 1) * nk + idx).reshape(-1)
    return src.reshape(s * nk, f).index_select(0, flat).view(*idx.shape, f)
