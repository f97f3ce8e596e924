"""The WOSAC sim-agents metric configuration as plain data.

Mirrors `challenge_2025_sim_agents_config.textproto` of the official package (2025 default); the 2024
weights differ only in road-edge (0.10) and traffic-light violation (0.0). Values are the f32 numbers of
the proto, so bin edges are built in float32 exactly like the official estimator.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

# Official constants (submission_specs SIM_AGENTS); the time line itself is `smartr1.data.timeline`.
NUM_ROLLOUTS = 32

KINEMATIC = ("linear_speed", "linear_acceleration", "angular_speed", "angular_acceleration")
INTERACTIVE = ("distance_to_nearest_object", "collision_indication", "time_to_collision")
MAP_BASED = ("distance_to_road_edge", "offroad_indication", "traffic_light_violation")
FEATURES = KINEMATIC + INTERACTIVE + MAP_BASED
BERNOULLI_FEATURES = ("collision_indication", "offroad_indication", "traffic_light_violation")


@dataclass(frozen=True)
class FeatureConfig:
    """One metric feature: histogram (`min`, `max`, `num_bins`) or bernoulli estimator, and its weight."""

    estimator: str  # "histogram" | "bernoulli"
    weight: float
    min: float = -0.5
    max: float = 1.5
    num_bins: int = 2
    pseudocount: float = 0.1
    independent_timesteps: bool = True


def _hist(lo: float, hi: float, bins: int, weight: float) -> FeatureConfig:
    return FeatureConfig("histogram", weight, lo, hi, bins, 0.1, True)


def _bern(weight: float) -> FeatureConfig:
    # `bernoulli: {}` in the config: the proto default pseudocount 0.001, not the histograms' 0.1.
    return FeatureConfig("bernoulli", weight, -0.5, 1.5, 2, 0.001, True)


@dataclass(frozen=True)
class MetricsConfig:
    """Per-feature settings keyed by the official feature names (see `FEATURES`)."""

    name: str
    features: dict[str, FeatureConfig] = field(default_factory=dict)

    def weight(self, feature: str) -> float:
        return self.features[feature].weight

    def with_weights(self, **weights: float) -> MetricsConfig:
        feats = {k: replace(v, weight=weights.get(k, v.weight)) for k, v in self.features.items()}
        return MetricsConfig(self.name + "-custom", feats)


def challenge_2025() -> MetricsConfig:
    return MetricsConfig(
        "2025",
        {
            "linear_speed": _hist(0.0, 25.0, 10, 0.05),
            "linear_acceleration": _hist(-12.0, 12.0, 11, 0.05),
            "angular_speed": _hist(-0.628, 0.628, 11, 0.05),
            "angular_acceleration": _hist(-3.14, 3.14, 11, 0.05),
            "distance_to_nearest_object": _hist(-5.0, 40.0, 10, 0.10),
            "collision_indication": _bern(0.25),
            "time_to_collision": _hist(0.0, 5.0, 10, 0.10),
            "distance_to_road_edge": _hist(-20.0, 40.0, 10, 0.05),
            "offroad_indication": _bern(0.25),
            "traffic_light_violation": _bern(0.05),
        },
    )


def challenge_2024() -> MetricsConfig:
    """The 2024 weights (no traffic-light term, road edge 0.10); same estimators as 2025."""
    base = challenge_2025().with_weights(distance_to_road_edge=0.10, traffic_light_violation=0.0)
    return MetricsConfig("2024", base.features)


def load_config(name: str | MetricsConfig = "2025") -> MetricsConfig:
    if isinstance(name, MetricsConfig):
        return name
    table = {"2025": challenge_2025, "2024": challenge_2024}
    if str(name) not in table:
        raise ValueError(f"unknown WOSAC metrics config {name!r}; known: {sorted(table)}")
    return table[str(name)]()
