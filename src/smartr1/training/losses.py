"""Token losses, as pure functions over logits: cross-entropy for behaviour cloning and CAT-K, and the
policy-gradient loss of reinforcement fine-tuning with a k3 KL penalty to a frozen reference."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def next_token_loss(logits, target, mask, label_smoothing: float = 0.1) -> tuple[torch.Tensor, dict]:
    """Mean cross-entropy over masked entries; a zero (but graph-connected) loss when there are none."""
    n = int(mask.sum())
    if n == 0:
        zero = logits.sum() * 0.0
        return zero, {"tokens": 0, "acc": torch.zeros((), device=logits.device)}
    sel = logits[mask]
    tgt = target[mask]
    loss = F.cross_entropy(sel.float(), tgt, label_smoothing=label_smoothing)
    acc = (sel.argmax(-1) == tgt).float().mean()
    return loss, {"tokens": n, "acc": acc.detach()}


def topk_support(logits: torch.Tensor, top_k: int) -> torch.Tensor:
    """[..., V] bool: the tokens top-k sampling can draw (all of them for top_k <= 0 or >= V)."""
    if not 0 < top_k < logits.shape[-1]:
        return torch.ones_like(logits, dtype=torch.bool)
    kth = torch.topk(logits.detach(), top_k, dim=-1).values[..., -1:]
    return logits.detach() >= kth


def restricted_log_probs(
    logits: torch.Tensor, support: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """Log-probabilities [..., V] of softmax(logits / temperature) renormalised over `support`
    (-inf outside it)."""
    z = (logits.float() / temperature).masked_fill(~support, float("-inf"))
    return torch.log_softmax(z, dim=-1)


def sampling_log_probs(logits: torch.Tensor, top_k: int, temperature: float = 1.0) -> torch.Tensor:
    """Log-probabilities [..., V] of the distribution tokens are drawn from: the top-k logits at a
    temperature, renormalised (-inf outside the top k). top_k <= 0 or >= V: the full softmax."""
    return restricted_log_probs(logits, topk_support(logits, top_k), temperature)


def k3_kl(logp: torch.Tensor, logp_ref: torch.Tensor) -> torch.Tensor:
    """The k3 estimator from log-probs of tokens sampled from pi: pi_ref / pi - log(pi_ref / pi) - 1,
    non-negative, zero (with zero gradient) where pi = pi_ref.

    Its value is an unbiased estimate of KL(pi || pi_ref). Its gradient, taken through log pi of the
    sampled tokens as the loss does (no score-function term for the sampling), has expectation
    E_pi[(1 - pi_ref / pi) grad log pi] = grad KL(pi_ref || pi): as a penalty it pulls pi towards
    covering pi_ref's tokens (the reverse direction of the value it reports)."""
    log_ratio = logp_ref - logp
    return torch.exp(log_ratio) - log_ratio - 1.0


def exact_kl(logits: torch.Tensor, ref_logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """[...] KL(pi_ref || pi) in nats between the full tempered softmaxes of `ref_logits` and `logits`
    [..., V], summed over the vocabulary: zero where they agree, and large where the policy lets go of a
    token the reference draws (mass-covering), whichever token was sampled. Gradients flow to `logits`."""
    logp = torch.log_softmax(logits.float() / temperature, dim=-1)
    ref = torch.log_softmax(ref_logits.float() / temperature, dim=-1)
    return (ref.exp() * (ref - logp)).sum(-1)


def support_entropy(logp: torch.Tensor, support: torch.Tensor) -> torch.Tensor:
    """[...] entropy (nats) of the distributions whose log-probs [..., V] are finite on `support`."""
    return -(logp.exp() * torch.where(support, logp, torch.zeros_like(logp))).sum(-1)


def policy_gradient_loss(
    logp: torch.Tensor,
    logp_ref: torch.Tensor,
    advantage: torch.Tensor,
    mask: torch.Tensor,
    beta: float,
    kl: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict]:
    """SMART-R1's token loss -(pi / stopgrad(pi) * A - beta * KL), averaged over the masked tokens.

    logp / logp_ref: log-probs of the sampled tokens under the policy (with gradients) and the frozen
    reference; advantage: broadcastable to them (one per scenario, group or rollout). The ratio is 1 in
    value, so its gradient is A x grad log pi: one on-policy policy-gradient step. `kl`: a per-token KL
    in place of the k3 estimate (e.g. `exact_kl`), shaped like logp.
    """
    m = mask.float()
    n = m.sum().clamp(min=1.0)
    ratio = torch.exp(logp - logp.detach())
    kl = k3_kl(logp, logp_ref.detach()) if kl is None else kl
    per_token = -(ratio * advantage - beta * kl)
    loss = (per_token * m).sum() / n
    return loss, {"kl": ((kl * m).sum() / n).detach(), "tokens": int(mask.sum())}
