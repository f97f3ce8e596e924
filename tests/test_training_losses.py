"""Policy-gradient pieces of RFT on toy policies, against gradients computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from smartr1.training.advantages import (
    RunningMean,
    SceneMeans,
    grpo,
    leave_one_out,
    mpo,
    reinforce,
    scene_baselined,
)
from smartr1.training.losses import (
    exact_kl,
    k3_kl,
    policy_gradient_loss,
    restricted_log_probs,
    sampling_log_probs,
    support_entropy,
    topk_support,
)


def _toy():
    torch.manual_seed(0)
    theta = torch.randn(5, 7, requires_grad=True)  # 5 states, 7 actions: logits = theta
    action = torch.tensor([0, 3, 6, 2, 2])
    return theta, action


def test_mpo_loss_gradient_is_advantage_times_grad_log_pi():
    theta, a = _toy()
    adv = torch.tensor([0.3, -0.2, 0.5, 0.1, -0.4])
    logp = torch.log_softmax(theta, -1).gather(-1, a[:, None])[:, 0]
    loss, _ = policy_gradient_loss(logp, logp.detach(), adv, torch.ones(5, dtype=torch.bool), beta=0.04)
    (g,) = torch.autograd.grad(loss, theta)
    # by hand: d/dtheta of -(1/N) sum A_i log pi(a_i | s_i) = -(1/N) A_i (onehot(a_i) - softmax(theta_i))
    p = torch.softmax(theta.detach(), -1)
    want = -(adv[:, None] * (torch.nn.functional.one_hot(a, 7) - p)) / 5
    torch.testing.assert_close(g, want)
    assert float(loss.detach()) == pytest.approx(-float(adv.mean()))  # the ratio is 1 and the KL 0 in value


def test_k3_kl_is_zero_with_zero_gradient_at_the_reference_and_positive_elsewhere():
    theta, a = _toy()
    logp = torch.log_softmax(theta, -1).gather(-1, a[:, None])[:, 0]
    kl = k3_kl(logp, logp.detach())
    (g,) = torch.autograd.grad(kl.sum(), theta)
    assert torch.equal(kl.detach(), torch.zeros(5)) and torch.equal(g, torch.zeros_like(g))
    other = k3_kl(logp.detach(), logp.detach() + torch.tensor([0.5, -0.5, 1.0, -2.0, 0.1]))
    assert (other > 0).all()
    # unbiased: E_{a~pi}[k3] = KL(pi || pi_ref), checked exactly by summing over actions
    pi = torch.softmax(torch.tensor([1.0, 0.0, -1.0]), 0)
    ref = torch.softmax(torch.tensor([0.0, 0.5, 0.2]), 0)
    expected = (pi * k3_kl(pi.log(), ref.log())).sum()
    torch.testing.assert_close(expected, (pi * (pi / ref).log()).sum())


def test_the_kl_term_pulls_towards_the_reference():
    theta, a = _toy()
    ref = torch.log_softmax(torch.zeros(5, 7), -1).gather(-1, a[:, None])[:, 0]  # uniform reference
    logp = torch.log_softmax(theta, -1).gather(-1, a[:, None])[:, 0]
    loss, stats = policy_gradient_loss(logp, ref, torch.zeros(5), torch.ones(5, dtype=torch.bool), beta=1.0)
    assert float(loss.detach()) == pytest.approx(float(stats["kl"])) and float(loss.detach()) > 0
    (g,) = torch.autograd.grad(loss, theta)
    # one small step along -grad lowers the KL
    with torch.no_grad():
        after = torch.log_softmax(theta - 0.1 * g, -1).gather(-1, a[:, None])[:, 0]
    assert float(k3_kl(after, ref).mean()) < float(stats["kl"])


def test_masked_tokens_do_not_count():
    theta, a = _toy()
    logp = torch.log_softmax(theta, -1).gather(-1, a[:, None])[:, 0]
    mask = torch.tensor([True, False, True, False, False])
    loss, stats = policy_gradient_loss(logp, logp.detach(), torch.ones(5), mask, beta=0.0)
    (g,) = torch.autograd.grad(loss, theta)
    assert stats["tokens"] == 2 and torch.equal(g[1], torch.zeros(7)) and g[0].abs().sum() > 0


def test_sampling_log_probs_renormalise_the_top_k():
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]])
    lp = sampling_log_probs(logits, top_k=2, temperature=0.5)
    z = torch.tensor([4.0, 2.0])
    want = z - torch.logsumexp(z, 0)
    torch.testing.assert_close(lp[0, :2], want)
    assert torch.isinf(lp[0, 2:]).all() and lp[0, 2:].max() < 0
    torch.testing.assert_close(sampling_log_probs(logits, 0), torch.log_softmax(logits, -1))


def test_advantage_rules():
    r = torch.tensor([0.70, 0.80])
    torch.testing.assert_close(mpo(r, 0.77), torch.tensor([-0.07, 0.03]))
    g = grpo(torch.tensor([[0.6, 0.7, 0.8, 0.9], [0.5, 0.5, 0.5, 0.5]]))
    torch.testing.assert_close(g[0].mean(), torch.tensor(0.0), atol=1e-6, rtol=0)
    torch.testing.assert_close(g[0].std(unbiased=False), torch.tensor(1.0), atol=1e-4, rtol=0)
    assert torch.equal(g[1], torch.zeros(4))  # no spread, no signal (and no division by zero)
    b = RunningMean(decay=0.5)
    torch.testing.assert_close(reinforce(torch.tensor([0.6, 0.8]), b), torch.tensor([-0.1, 0.1]))
    assert b.value == pytest.approx(0.7)
    torch.testing.assert_close(reinforce(torch.tensor([0.9]), b), torch.tensor([0.2]))
    assert b.value == pytest.approx(0.8)
    m = torch.tensor([[0.70, 0.72, 0.74]])
    torch.testing.assert_close(leave_one_out(m), torch.tensor([[0.02, 0.0, -0.02]]))
    assert math.isclose(float(leave_one_out(m).sum()), 0.0, abs_tol=1e-7)


def test_k3_gradient_is_that_of_the_reverse_kl():
    """Exact expectation over a toy categorical: the value of k3 averages to KL(pi || pi_ref), its
    gradient through log pi to the gradient of KL(pi_ref || pi) (the direction the docstring states)."""
    torch.manual_seed(1)
    theta = torch.randn(6, requires_grad=True)
    ref = torch.log_softmax(torch.randn(6), -1)
    logp = torch.log_softmax(theta, -1)
    p = logp.exp().detach()  # the sampling weights carry no gradient, as in the loss
    value = (p * k3_kl(logp, ref)).sum()
    torch.testing.assert_close(value, (p * (logp.detach() - ref)).sum())  # KL(pi || pi_ref)
    (grad_k3,) = torch.autograd.grad(value, theta)
    reverse = (ref.exp() * (ref - torch.log_softmax(theta, -1))).sum()  # KL(pi_ref || pi)
    (grad_reverse,) = torch.autograd.grad(reverse, theta)
    torch.testing.assert_close(grad_k3, grad_reverse)
    forward = (torch.softmax(theta, -1) * (torch.log_softmax(theta, -1) - ref)).sum()
    (grad_forward,) = torch.autograd.grad(forward, theta)
    assert (grad_k3 - grad_forward).abs().max() > 1e-3  # and not that of KL(pi || pi_ref)


def test_scene_baseline_measures_the_rollouts_not_the_scene():
    means = SceneMeans()
    first = scene_baselined(
        torch.tensor([[0.80], [0.60]]), torch.tensor([[0.03], [-0.17]]), ["a", "b"], means
    )
    torch.testing.assert_close(first, torch.tensor([[0.03], [-0.17]]))  # first visit: the rule's
    again = scene_baselined(torch.tensor([[0.82], [0.59]]), torch.zeros(2, 1), ["a", "b"], means)
    torch.testing.assert_close(again, torch.tensor([[0.02], [-0.01]]))  # against each scene's own mean
    assert means.get("a") == pytest.approx(0.81) and means.counts == {"a": 2, "b": 2}


def test_per_agent_values_land_in_the_rollout_columns():
    from smartr1.training.rft import to_columns

    values = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])  # [R=2, N=3] in metric order
    track_index = torch.tensor([7, 2, -1])  # metric objects -> tracks (padding -1)
    cols = torch.tensor([2, 5, 7, -1])  # rollout columns -> tracks
    out = to_columns(values, track_index, cols)
    torch.testing.assert_close(out, torch.tensor([[2.0, 0.0, 1.0, 0.0], [5.0, 0.0, 4.0, 0.0]]))


def test_support_entropy_is_that_of_the_renormalised_top_k():
    theta, _ = _toy()
    support = topk_support(theta, 3)
    got = support_entropy(restricted_log_probs(theta, support), support)
    # the entropy of the 3 largest logits' softmax, renormalised among themselves
    rows = zip(theta.detach(), support, strict=True)
    want = torch.stack([torch.distributions.Categorical(logits=r[k]).entropy() for r, k in rows])
    assert int(support.sum()) == 5 * 3
    torch.testing.assert_close(got.detach(), want, rtol=1e-6, atol=1e-6)
    assert got.requires_grad  # the entropy bonus of RFT flows back into the logits
    full = torch.ones_like(support)
    torch.testing.assert_close(
        support_entropy(restricted_log_probs(theta, full), full).detach(),
        torch.distributions.Categorical(logits=theta.detach()).entropy(),
    )


def test_exact_kl_is_the_forward_kl_of_the_full_softmaxes():
    theta, a = _toy()
    ref = theta.detach() + torch.randn(5, 7)
    got = exact_kl(theta, ref, temperature=1.5)
    p_ref = torch.distributions.Categorical(logits=ref / 1.5)
    want = torch.distributions.kl_divergence(
        p_ref, torch.distributions.Categorical(logits=theta.detach() / 1.5)
    )
    torch.testing.assert_close(got.detach(), want, rtol=1e-5, atol=1e-6)
    assert float(exact_kl(ref, ref).abs().max()) < 1e-6  # zero where the policy is the reference
    # as the penalty of policy_gradient_loss, with a zero advantage: the gradient only covers the reference
    mask = torch.ones(5, dtype=torch.bool)
    logp = torch.log_softmax(theta, -1).gather(-1, a[:, None])[:, 0]
    kl = exact_kl(theta, ref)
    loss, stats = policy_gradient_loss(logp, logp.detach(), torch.zeros(5), mask, 2.0, kl)
    loss.backward()
    # d KL(ref || softmax(theta)) / d theta = softmax(theta) - p_ref, per state, times beta / states
    want_grad = 2.0 / 5 * (torch.softmax(theta.detach(), -1) - torch.softmax(ref, -1))
    torch.testing.assert_close(theta.grad, want_grad, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(stats["kl"], kl.detach().mean())
