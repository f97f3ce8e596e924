"""The options of the simulate and evaluate jobs, one name and one default each, from the CLI (whose
defaults are these) through `distributed.datasets` to the per-shard jobs. Light on purpose (no torch):
the CLI reads the defaults when it starts."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SimulateOptions:
    """How `simulate_dataset` rolls out every scenario.

    num_rollouts: joint rollouts per scenario (WOSAC: 32); seed: sampling seed (reproducible per scenario);
    device: torch device of the policy; top_k / temperature: token sampling (`rollout.sampling.DEFAULT_TOP_K`);
    start: where the future's token chain starts, "logged" or "tokenized" (`rollout.session.DEFAULT_START`);
    scenarios_per_batch: scenarios simulated together (model policies); skip_bad: skip corrupt records;
    threads: torch intra-op threads of each job.
    """

    num_rollouts: int = 32
    seed: int = 0
    device: str = "cpu"
    top_k: int = 20  # = DEFAULT_TOP_K, written out so the CLI imports no torch (a test keeps them equal)
    temperature: float = 1.0
    start: str = "logged"  # = DEFAULT_START (same)
    scenarios_per_batch: int = 1
    skip_bad: bool = False
    threads: int = 1

    def policy_options(self) -> dict:
        """The keyword arguments of `rollout.policy.load_policy` besides the checkpoint."""
        return {"device": self.device, "top_k": self.top_k, "temperature": self.temperature,
                "start": self.start, "scenarios_per_batch": self.scenarios_per_batch}  # fmt: skip


@dataclass(frozen=True)
class EvaluateOptions:
    """How `evaluate_dataset` scores a submission.

    device: torch device of the metric; config: metric config ("2025" or "2024"); batch_size: scenarios
    scored together; num_rollouts: rollouts required per scenario (official: 32; None accepts any count).
    """

    device: str = "cpu"
    config: str = "2025"
    batch_size: int = 4
    num_rollouts: int | None = 32
