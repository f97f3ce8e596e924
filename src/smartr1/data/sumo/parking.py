"""Parked cars: real SUMO vehicles standing on the parking lanes for the whole simulation.

WOMD scenes are full of parked cars, and a model must learn that they are there and do not move.
Each parking lane (a lane that permits no class, see `roads.py`) is filled with cars of the world's
parked types, bumper to bumper with small random gaps and empty stretches, at a per-world occupancy.
Every car departs at t=0 with speed 0 on its slot and parks there (a `parking="true"` stop) for
longer than any simulation. Nothing else can enter that lane, so they never block traffic, never
teleport and never move; parked vehicles leave SUMO's lanes, so they cost no simulation time
(a stop on the lane instead doubled the warm-up time of a world with 800 parked cars).

SUMO draws a vehicle parked without a parking area beside the edge's outermost lane (the sidewalk
here: it does not know that our lane is a parking lane), so the recorder places each parked car at
its stop on the parking lane, where it stands: `parked_pose`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from smartr1.data.sumo.vtypes import parked_types, types_xml

PREFIX = "park"  # vehicle ids of parked cars start with this; the recorder logs them once
STOP_S = 1e7  # longer than any simulation
MARGIN_START = 3.0  # m kept free after the junction (crosswalk, corner)
MARGIN_END = 6.0  # m kept free before the stop line
GAP = (0.5, 1.6)  # m between parked bumpers
EMPTY = (2.0, 8.0)  # m of an empty stretch


@dataclass(frozen=True)
class ParkingLane:
    edge: str
    lane: str
    index: int
    length: float
    width: float


def is_parked(vehicle_id: str) -> bool:
    return vehicle_id.startswith(PREFIX)


def parked_pose(vehicle_id: str) -> tuple[float, float, float]:
    """(x, y, heading) of a parked car's front bumper at its stop, from SUMO's lane geometry.

    Needs a running libsumo simulation with the car in it.
    """
    import libsumo  # SUMO: native, one simulation per process: loaded only in a world's worker

    stop = libsumo.vehicle.getStops(vehicle_id)[0]
    edge, index = stop.lane.rsplit("_", 1)
    pos = float(stop.endPos)
    x, y = libsumo.simulation.convert2D(edge, pos, int(index))
    bx, by = libsumo.simulation.convert2D(edge, max(pos - 1.0, 0.0), int(index))
    return float(x), float(y), float(np.arctan2(y - by, x - bx))


def parking_lanes(net_file: str | Path) -> list[ParkingLane]:
    """The parking lanes of a built network: lanes of normal edges that permit no class."""
    out = []
    for e in ET.parse(net_file).getroot().iter("edge"):
        if e.get("function"):
            continue
        for ln in e.iter("lane"):
            if ln.get("disallow") == "all" and not ln.get("allow"):
                out.append(
                    ParkingLane(
                        edge=e.get("id"),
                        lane=ln.get("id"),
                        index=int(ln.get("index")),
                        length=float(ln.get("length")),
                        width=float(ln.get("width", "3.2")),
                    )
                )
    return sorted(out, key=lambda p: p.lane)


def parked_xml(net_file: str | Path, seed: int, occupancy: float) -> tuple[str, int]:
    """Route-file XML with the parked types and one stopped vehicle per occupied slot; and the count."""
    lanes = parking_lanes(net_file)
    width = min((p.width for p in lanes), default=2.2)
    types = parked_types(seed, width)
    lengths = [float(a["length"]) for _, a in types]
    rng = np.random.default_rng([seed, 5])
    rows = []
    for p in lanes:
        occ = float(np.clip(occupancy * rng.uniform(0.6, 1.3), 0.0, 0.98))
        pos = MARGIN_START
        while True:
            k = int(rng.integers(len(types)))
            if pos + lengths[k] > p.length - MARGIN_END:
                break
            if rng.random() < occ:
                front = pos + lengths[k]
                rows.append(
                    f'  <vehicle id="{PREFIX}{len(rows)}" type="{types[k][0]}" depart="0" '
                    f'departLane="{p.index}" departPos="{front:.2f}" departSpeed="0">'
                    f'<route edges="{p.edge}"/>'
                    f'<stop lane="{p.lane}" startPos="{max(0.0, front - 0.5):.2f}" endPos="{front:.2f}" '
                    f'duration="{STOP_S:.0f}" parking="true"/></vehicle>'
                )
                pos = front + rng.uniform(*GAP)
            else:
                pos += rng.uniform(*EMPTY)
    xml = "<routes>\n" + types_xml(types) + "\n" + "\n".join(rows) + "\n</routes>\n"
    return xml, len(rows)
