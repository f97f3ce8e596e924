"""The metric config as data: 2025 default, 2024 loadable, weights as in the official textprotos."""

from __future__ import annotations

import pytest

from smartr1.metrics.aggregate import buckets
from smartr1.metrics.config import FEATURES, load_config


def test_2025_weights_and_estimators():
    cfg = load_config()
    assert cfg.name == "2025" and set(cfg.features) == set(FEATURES)
    assert sum(f.weight for f in cfg.features.values()) == pytest.approx(1.0)
    assert cfg.weight("traffic_light_violation") == 0.05 and cfg.weight("distance_to_road_edge") == 0.05
    bern = [k for k, f in cfg.features.items() if f.estimator == "bernoulli"]
    assert sorted(bern) == ["collision_indication", "offroad_indication", "traffic_light_violation"]
    assert all(cfg.features[k].pseudocount == 0.001 for k in bern)
    assert cfg.features["angular_speed"].min == -0.628 and cfg.features["angular_speed"].num_bins == 11


def test_2024_weights():
    cfg = load_config("2024")
    assert cfg.weight("traffic_light_violation") == 0.0 and cfg.weight("distance_to_road_edge") == 0.10
    assert sum(f.weight for f in cfg.features.values()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="unknown"):
        load_config("2019")


def test_bucket_identity():
    # metametric = 0.2 kinematic + 0.45 interactive + 0.35 map-based (2025).
    vals = {f"{f}_likelihood": 0.1 * (i + 1) for i, f in enumerate(FEATURES)}
    cfg = load_config()
    vals["metametric"] = sum(cfg.weight(f) * vals[f"{f}_likelihood"] for f in FEATURES)
    for k in ("min_average_displacement_error", "simulated_collision_rate", "simulated_offroad_rate",
              "simulated_traffic_light_violation_rate"):  # fmt: skip
        vals[k] = 0.0
    b = buckets(vals)
    total = 0.2 * b["kinematic_metrics"] + 0.45 * b["interactive_metrics"] + 0.35 * b["map_based_metrics"]
    assert total == pytest.approx(vals["metametric"], abs=1e-6)
