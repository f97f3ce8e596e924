"""SUMO -> WOMD conventions (pure functions, no SUMO run)."""

from __future__ import annotations

import numpy as np
import pytest

from smartr1.data.geometry import wrap_angle
from smartr1.data.scenario import SignalState
from smartr1.data.sumo.convert import (
    centre_from_front_path,
    compass_to_heading,
    front_to_centre,
    signal_state,
    velocity,
)


@pytest.mark.parametrize(
    "angle, heading",
    [
        (0.0, np.pi / 2),
        (90.0, 0.0),
        (180.0, -np.pi / 2),
        (270.0, -np.pi),
        (45.0, np.pi / 4),
        (360.0, np.pi / 2),
    ],
)
def test_compass_to_heading(angle, heading):
    assert np.isclose(wrap_angle(compass_to_heading(angle) - heading), 0.0, atol=1e-12)


def test_front_to_centre_known_pose():
    # A 4 m car heading north (SUMO angle 0) with its front bumper at (10, 20): centre is 2 m south.
    h = compass_to_heading(0.0)
    cx, cy = front_to_centre(10.0, 20.0, h, 4.0)
    assert np.allclose([cx, cy], [10.0, 18.0])
    # Heading south-west (SUMO angle 225): centre is 2 m back towards the north-east.
    h = compass_to_heading(225.0)
    cx, cy = front_to_centre(0.0, 0.0, h, 4.0)
    assert np.allclose([cx, cy], [np.sqrt(2.0), np.sqrt(2.0)])


def test_centre_from_straight_path_equals_straight_box():
    # Driving east at 1 m per step: once the path is a length long, the centre is L/2 behind the front.
    fx = np.arange(10.0)
    fy = np.full(10, 5.0)
    h = np.zeros(10)
    cx, cy, hh = centre_from_front_path(fx, fy, h, 4.0)
    ex, ey = front_to_centre(fx, fy, h, 4.0)
    assert np.allclose(cx, ex) and np.allclose(cy, ey)  # incl. the extrapolated first steps
    assert np.allclose(hh, 0.0)


def test_centre_from_curved_path_stays_on_the_path():
    # Front bumper on a circle of radius 10 (counter-clockwise): the centre lies on the same circle
    # (the box follows the lane), whereas a straight box would put it outside the circle.
    r, L = 10.0, 5.0
    t = np.linspace(0.0, np.pi, 200)
    fx, fy = r * np.cos(t), r * np.sin(t)
    h = t + np.pi / 2  # tangent
    cx, cy, hh = centre_from_front_path(fx, fy, h, L)
    late = t > L / r + 0.05  # path already longer than the vehicle
    assert np.allclose(np.hypot(cx, cy)[late], r, atol=1e-3)
    # Arc length from centre to front is L/2.
    assert np.allclose(wrap_angle(t[late] - np.arctan2(cy[late], cx[late])), L / 2 / r, atol=1e-3)
    # Heading is the chord from the rear (L back along the arc) to the front.
    chord = t[late] - L / r / 2 + np.pi / 2
    assert np.allclose(wrap_angle(hh[late] - chord), 0.0, atol=1e-3)
    sx, sy = front_to_centre(fx, fy, h, L)
    assert (np.hypot(sx, sy)[late] > r + 0.2).all()


def test_centre_from_stationary_path_keeps_sumo_heading():
    fx = np.zeros(5)
    fy = np.zeros(5)
    h = np.full(5, 0.3)
    cx, cy, hh = centre_from_front_path(fx, fy, h, 4.0)
    assert np.allclose(hh, 0.3)
    assert np.allclose([cx[0], cy[0]], [-2 * np.cos(0.3), -2 * np.sin(0.3)])


def test_velocity():
    vx, vy = velocity(10.0, 0.0, compass_to_heading(0.0))  # north
    assert np.allclose([vx, vy], [0.0, 10.0], atol=1e-12)
    vx, vy = velocity(3.0, 4.0, 0.0)  # a lane change: SUMO's angle already leans into it
    assert np.isclose(np.hypot(vx, vy), 5.0) and np.isclose(vy, 0.0)


@pytest.mark.parametrize(
    "char, arrow, expected",
    [
        ("G", False, SignalState.GO),
        ("G", True, SignalState.ARROW_GO),
        ("g", True, SignalState.GO),
        ("y", False, SignalState.CAUTION),
        ("y", True, SignalState.ARROW_CAUTION),
        ("r", False, SignalState.STOP),
        ("r", True, SignalState.ARROW_STOP),
        ("s", False, SignalState.STOP),
        ("u", False, SignalState.CAUTION),
        ("o", False, SignalState.FLASHING_CAUTION),
        ("O", False, SignalState.UNKNOWN),
    ],
)
def test_signal_state(char, arrow, expected):
    assert signal_state(char, arrow) == expected
