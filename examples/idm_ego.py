"""Drive the ego with a simple IDM-style controller among learned sim agents and report how it went.

    python examples/idm_ego.py [SCENARIOS] [--checkpoint smartr1-nano-sumo]

Longitudinal: the Intelligent Driver Model behind the nearest agent ahead in the ego's path;
lateral: pure pursuit of the logged route 2 s ahead. Prints collisions, offroad and progress per
scenario (the environment's definitions: WOSAC's rounded boxes and road edges).
"""

from __future__ import annotations

import argparse
import math
import time

import gymnasium as gym
import numpy as np

import smartr1.sim  # noqa: F401 - registers smartr1/SimAgents-v0
from smartr1.data.womd import read_scenarios
from smartr1.sim.env import MAX_ACCEL, MAX_STEER, NEIGHBOURS

V0, T_GAP, S0, A_MAX, B_COMF = 13.0, 1.5, 2.0, 1.5, 2.0  # IDM: desired speed, headway, gap, accel, decel


def idm_action(obs: np.ndarray, wheelbase: float = 2.8) -> np.ndarray:
    speed = float(obs[0])
    others = obs[12:].reshape(NEIGHBOURS, 5)  # x, y, vx, vy, present (ego frame)
    ahead = others[(others[:, 4] > 0) & (others[:, 0] > 0) & (np.abs(others[:, 1]) < 2.0)]
    accel = A_MAX * (1 - (speed / V0) ** 4)
    if len(ahead):
        lead = ahead[np.argmin(ahead[:, 0])]
        gap = max(float(lead[0]) - 5.0, 0.1)  # centre distance minus about a car length
        dv = speed - float(lead[2])
        s_star = S0 + speed * T_GAP + speed * dv / (2 * math.sqrt(A_MAX * B_COMF))
        accel -= A_MAX * (max(s_star, 0.0) / gap) ** 2
    x, y = float(obs[4]), float(obs[5])  # the route point 2 s ahead
    d2 = max(x * x + y * y, 1.0)
    steer = math.atan(2 * wheelbase * y / d2)
    return np.clip([accel / MAX_ACCEL, steer / MAX_STEER], -1, 1).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenarios", nargs="?", default="../shared/data/wosac/scenarios")
    ap.add_argument("--checkpoint", default="smartr1-nano-sumo")
    ap.add_argument("--limit", type=int, default=20)
    args = ap.parse_args()
    scenarios = list(read_scenarios(args.scenarios))[: args.limit]
    env = gym.make("smartr1/SimAgents-v0", scenarios=scenarios, checkpoint=args.checkpoint)
    rows, steps, t0 = [], 0, time.perf_counter()
    for i in range(len(scenarios)):
        obs, info = env.reset(seed=i, options={"scenario": i})
        while True:
            obs, _, terminated, truncated, info = env.step(idm_action(obs))
            steps += 1
            if terminated or truncated:
                break
        end = "collision" if info["collision"] else "offroad" if info["offroad"] else "end of scenario"
        rows.append((scenarios[i].scenario_id, info["progress_m"], end))
    seconds = time.perf_counter() - t0
    for sid, progress, end in rows:
        print(f"{sid:>24}  progress {progress:6.1f} m  {end}")
    collisions = sum(r[2] == "collision" for r in rows)
    offroad = sum(r[2] == "offroad" for r in rows)
    print(f"{len(rows)} scenarios: {collisions} collisions, {offroad} offroad, "
          f"mean progress {np.mean([r[1] for r in rows]):.1f} m; {steps / seconds:.1f} env steps/s")  # fmt: skip


if __name__ == "__main__":
    main()
