"""The WOMD time line and the motion-token grid laid over it, written once for every layer.

A scenario has 91 steps at 10 Hz; step 10 is the current step, steps 11..90 the 80 simulated ones.
Motion tokens cover 5 steps (0.5 s): token slot k moves an agent from step 5k to step 5k + 5, so
there are 18 slots and 19 anchors (steps 0, 5, ..., 90). Slots 0-1 are history, 2-17 the future.
"""

from __future__ import annotations

NUM_STEPS = 91
CURRENT_STEP = 10
NUM_FUTURE_STEPS = NUM_STEPS - CURRENT_STEP - 1  # 80
STEP_SECONDS = 0.1

STEPS_PER_TOKEN = 5
NUM_SLOTS = (NUM_STEPS - 1) // STEPS_PER_TOKEN  # 18
NUM_ANCHORS = NUM_SLOTS + 1  # 19
HISTORY_SLOTS = CURRENT_STEP // STEPS_PER_TOKEN  # 2
FUTURE_SLOTS = NUM_SLOTS - HISTORY_SLOTS  # 16
