"""SUMO conventions -> WOMD conventions, as pure functions.

SUMO reports a vehicle's position at its front bumper and its angle in compass degrees
(0 = north, clockwise); WOMD wants the box centre and a heading in radians counter-clockwise from +x.
Signals come as one character per controlled link.
"""

from __future__ import annotations

import numpy as np

from smartr1.data.geometry import wrap_angle
from smartr1.data.scenario import SignalState


def compass_to_heading(angle_deg):
    """SUMO angle (degrees, 0 = north, clockwise) -> heading (radians, 0 = +x, counter-clockwise)."""
    return wrap_angle(np.radians(90.0 - np.asarray(angle_deg, np.float64)))


def front_to_centre(x, y, heading, length):
    """Box centre of a straight box whose front bumper is at (x, y): half a length back along heading."""
    h = np.asarray(heading, np.float64)
    half = 0.5 * np.asarray(length, np.float64)
    return np.asarray(x) - half * np.cos(h), np.asarray(y) - half * np.sin(h)


def centre_from_front_path(fx, fy, heading, length):
    """Box centre and heading of a vehicle from the path its front bumper has driven so far.

    The rear axle follows the front's own path, so the centre is the point half a length back
    along that path and the heading points from the point a full length back to the front. Long
    vehicles in turns then sweep their box along the lane instead of swinging it onto the corner.
    Before the path is a full length long (just departed) it is extended straight back along the
    first `heading`. fx, fy, heading: [n] front positions and SUMO headings (radians) of one agent
    over consecutive steps; returns (cx [n], cy [n], heading [n]).
    """
    fx = np.asarray(fx, np.float64)
    fy = np.asarray(fy, np.float64)
    heading = np.asarray(heading, np.float64)
    n = fx.shape[0]
    if n == 0:
        return fx.copy(), fy.copy(), heading.copy()
    step = np.hypot(np.diff(fx), np.diff(fy))
    s = np.concatenate([[0.0], np.cumsum(step)])  # arc length of the front path, non-decreasing
    h0 = heading[0]

    def at(target):
        """Points on the front path (extended back along h0) at arc lengths `target`."""
        px = np.interp(target, s, fx)
        py = np.interp(target, s, fy)
        before = target < 0.0
        px = np.where(before, fx[0] + target * np.cos(h0), px)
        py = np.where(before, fy[0] + target * np.sin(h0), py)
        return px, py

    cx, cy = at(s - 0.5 * length)
    rx, ry = at(s - float(length))
    dx, dy = fx - rx, fy - ry
    # A path that folds back on itself (never in SUMO, but be safe) gives a short chord: keep SUMO's heading.
    ok = np.hypot(dx, dy) > 0.5 * float(length)
    out_h = np.where(ok, np.arctan2(dy, dx), heading)
    return cx, cy, wrap_angle(out_h)


def velocity(speed, speed_lat, angle_heading):
    """World-frame velocity from SUMO's longitudinal speed and lateral (lane-change) speed.

    SUMO's angle already leans into a running lane change, so the full speed hypot(speed, speedLat)
    points along it; adding speedLat sideways again would count the lateral motion twice (measured:
    worse agreement with the logged displacement). `angle_heading` is the SUMO angle in radians.
    """
    h = np.asarray(angle_heading, np.float64)
    v = np.hypot(np.asarray(speed, np.float64), np.asarray(speed_lat, np.float64))
    return v * np.cos(h), v * np.sin(h)


_STOP = SignalState.STOP, SignalState.ARROW_STOP
_CAUTION = SignalState.CAUTION, SignalState.ARROW_CAUTION
_GO = SignalState.GO, SignalState.ARROW_GO


def signal_state(char: str, arrow: bool = False) -> SignalState:
    """One SUMO link state character -> WOMD lane state.

    `arrow` marks a protected turn link (left or turnaround), which WOMD reports with ARROW_* states.
    Permissive green 'g' (turn must yield) stays a plain GO.
    """
    a = int(bool(arrow))
    if char == "G":
        return _GO[a]
    if char == "g":
        return SignalState.GO
    if char in "yYu":
        return _CAUTION[a]
    if char in "rs":
        return _STOP[a]
    if char == "o":
        return SignalState.FLASHING_CAUTION
    return SignalState.UNKNOWN
