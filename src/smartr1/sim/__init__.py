"""Trained sim agents as reactive traffic around your own driving planner: a 10 Hz stepping API
(`smartr1.sim.agents.SimAgents`) and a Gymnasium environment (`smartr1.sim.env.SimAgentsEnv`,
registered as `smartr1/SimAgents-v0`) for an ego agent among them."""

import gymnasium

ENV_ID = "smartr1/SimAgents-v0"
if ENV_ID not in gymnasium.registry:
    gymnasium.register(id=ENV_ID, entry_point="smartr1.sim.env:SimAgentsEnv")
