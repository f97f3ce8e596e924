"""Model hyper-parameters and the named sizes (nano / mini / tiny after SMART's published configs)."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from smartr1.data.timeline import NUM_SLOTS


@dataclass
class ModelConfig:
    hidden: int = 64  # node width D
    heads: int = 4
    head_dim: int = 8  # attention width I = heads * head_dim
    ff_mult: int = 4
    dropout: float = 0.1
    fourier_bands: int = 16
    map_layers: int = 2
    agent_layers: int = 4
    map_radius: float = 10.0  # map-map edges (m)
    map_to_agent_radius: float = 20.0  # (m)
    agent_radius: float = 20.0  # agent-agent edges at the same slot (m)
    time_window: int = 4  # temporal attention over the agent's own last N slots (0.5 s each)
    map_neighbours: int = 16  # caps on neighbours per query: memory and time stay O(nodes * cap)
    map_to_agent_neighbours: int = 16
    agent_neighbours: int = 12
    temporal_edge_drop: float = 0.1  # training only
    # Angles of relative poses as integer harmonics (continuous across +-pi, so the model is invariant to
    # the world frame); False only for checkpoints written before the option existed (learned
    # frequencies on the raw angle), which load as they were trained. Every named size sets True.
    periodic_angles: bool = False
    # Logits get a term <query(node), embedding(token geometry)> besides the per-id output layer, so what
    # is learned about one motion carries over to similar motions of the agent's own class (the plain
    # layer shares one output unit per id across classes and learns every id on its own). False only for
    # checkpoints written before the option existed. Every named size sets True (this and motion_prior:
    # benchmarks/results/base_model.md).
    geometric_head: bool = False
    # Logits start from a continuation prior: minus a learned per-class scale times how far each token
    # ends from where repeating the agent's last token would end (mean corner distance, class box), so
    # an untrained model already keeps going and training learns the deviations (without it, closed-loop
    # agents slow down step by step). False only for checkpoints written before the option existed.
    motion_prior: bool = False
    vocab_size: int = 512  # motion tokens per agent class
    num_classes: int = 3
    num_slots: int = NUM_SLOTS

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        cfg = cls(**d)
        sizes = ("hidden", "heads", "head_dim", "ff_mult", "vocab_size", "num_classes", "num_slots")
        bad = {
            k: getattr(cfg, k) for k in sizes if not isinstance(getattr(cfg, k), int) or getattr(cfg, k) < 1
        }
        if bad:
            raise ValueError(f"model config sizes must be positive integers: {bad}")
        return cfg


SIZES: dict[str, ModelConfig] = {
    # ~1M params: hidden 64, 4 heads x 8, 2 map / 4 agent layers, radii 10 / 20 / 20 m, 2 s window.
    "nano": ModelConfig(periodic_angles=True, geometric_head=True, motion_prior=True),
    # ~3M params: hidden 128, 4 heads x 8, 2 map / 4 agent layers.
    "mini": ModelConfig(
        periodic_angles=True,
        geometric_head=True,
        motion_prior=True,
        hidden=128,
        heads=4,
        head_dim=8,
        fourier_bands=32,
        map_radius=10.0,
        map_to_agent_radius=30.0,
        agent_radius=60.0,
        time_window=6,
        map_to_agent_neighbours=48,
        agent_neighbours=32,
        vocab_size=2048,
    ),
    # ~7M params: hidden 128, 8 heads x 16, 3 map / 6 agent layers, 64 bands, radii 10 / 30 / 60 m, 3 s window.
    "tiny": ModelConfig(
        periodic_angles=True,
        geometric_head=True,
        motion_prior=True,
        hidden=128,
        heads=8,
        head_dim=16,
        fourier_bands=64,
        map_layers=3,
        agent_layers=6,
        map_radius=10.0,
        map_to_agent_radius=30.0,
        agent_radius=60.0,
        time_window=6,
        map_neighbours=32,
        map_to_agent_neighbours=64,
        agent_neighbours=32,
        vocab_size=2048,
    ),
}


def model_config(size: str, **overrides) -> ModelConfig:
    """A named size with optional field overrides (e.g. a smaller vocab_size)."""
    if size not in SIZES:
        raise ValueError(f"unknown model size {size!r}; choose one of {sorted(SIZES)}")
    return replace(SIZES[size], **overrides)
