"""Reference policies reproduce the golden submissions bit for bit (definitions in the goldens README)."""

from __future__ import annotations

import numpy as np
import pytest

from smartr1.rollout.reference import REFERENCE_POLICIES, reference_policy
from tests.conftest import SCENARIO_IDS, WOSAC


@pytest.mark.parametrize("kind", ["logged_oracle", "constant_velocity", "stationary"])
@pytest.mark.parametrize("sid", SCENARIO_IDS)
def test_matches_golden_submission_bitwise(real_scenarios, sid, kind):
    ro = reference_policy(kind)(real_scenarios[sid])
    gold = np.load(WOSAC / sid / f"submission_{kind}.npz")
    assert ro.scenario_id == sid
    assert np.array_equal(ro.object_id, gold["object_id"])
    for k in ("x", "y", "z", "heading"):
        ours = getattr(ro, k)
        assert ours.dtype == np.float32 and ours.shape == gold[k].shape
        assert np.array_equal(ours.view(np.int32), gold[k].view(np.int32)), k


def test_lookup_by_name_and_rollout_count(real_scenarios):
    scen = real_scenarios[SCENARIO_IDS[0]]
    assert reference_policy("constant-velocity") is reference_policy("constant_velocity")
    assert set(REFERENCE_POLICIES) == {"logged-oracle", "constant-velocity", "stationary"}
    assert reference_policy("Stationary")(scen, num_rollouts=4).x.shape[0] == 4
    with pytest.raises(ValueError, match="unknown reference policy"):
        reference_policy("teleport")
