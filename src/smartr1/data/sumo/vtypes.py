"""Vehicle, bike, pedestrian and parked-car types of a world, as SUMO additional XML.

Types are drawn from the world seed so that a world's traffic mix is reproducible, and vary
car-following and lane-change behaviour between drivers (SUMO's own randomness then varies
individual vehicles through `speedFactor` and `sigma`).
"""

from __future__ import annotations

import numpy as np


def _vtype(tid: str, attrs: dict) -> str:
    body = " ".join(f'{k}="{v}"' for k, v in attrs.items())
    return f'    <vType id="{tid}" {body}/>'


def vtype_xml(seed: int) -> tuple[str, str]:
    """(vehicle + bike type distributions, pedestrian type distribution) as SUMO additional XML.

    12 car types (about 12% trucks) with varied car-following and lane-change behaviour, 4 bike
    types, 4 pedestrian types; the pedestrians go to a separate file (see the recipe: persons cannot
    use a distribution that duarouter copied into a route file).
    """
    rng = np.random.default_rng([seed, 2])

    def u(lo, hi, nd=2):
        return round(float(rng.uniform(lo, hi)), nd)

    cars = []
    for i in range(12):
        truck = i >= 10 or (i == 9 and rng.random() < 0.5)
        # IDM creeps up to a standing queue over a long distance; Krauss (and EIDM) brake later.
        model = ["Krauss", "IDM", "EIDM"][int(rng.choice(3, p=[0.5, 0.2, 0.3]))]
        attrs = {
            "vClass": "truck" if truck else "passenger",
            "length": u(7.0, 12.0) if truck else u(3.9, 5.2),
            "width": u(2.4, 2.55) if truck else u(1.7, 2.0),
            "height": u(3.0, 3.8) if truck else u(1.4, 1.9),
            "minGap": u(2.0, 3.0),
            # Urban drivers pull away and brake briskly (WOMD: speed changes of about +-2 m/s^2 at
            # p5/p95), and keep ~1 s headways; softer settings spend most of a trip speeding up
            # and slowing down between junctions.
            "accel": u(1.0, 1.6) if truck else u(3.0, 4.0),
            "decel": u(3.0, 4.0) if truck else u(4.5, 6.0),
            "emergencyDecel": 9.0,
            "sigma": u(0.05, 0.35),  # Krauss dawdling; 0.1-0.7 made free-flow speeds crawl
            "tau": u(0.9, 1.4) if truck else u(0.8, 1.3),
            "speedFactor": f"normc({u(0.95, 1.15)},0.1,0.6,1.6)",
            "carFollowModel": model,
            "lcStrategic": u(0.5, 2.0),
            "lcCooperative": u(0.5, 1.0),
            "lcSpeedGain": u(0.5, 2.0),
            "lcKeepRight": u(0.5, 2.0),
            "lcAssertive": u(1.0, 2.0),
            "lcSigma": u(0.0, 0.3),
            "impatience": u(0.0, 0.6),
            "probability": u(0.2, 0.6) if truck else u(0.5, 1.5),  # ~5% trucks, as in city traffic
            "guiShape": "truck" if truck else "passenger",
        }
        cars.append(_vtype(f"car{i}", attrs))
    bikes = []
    for i in range(4):
        attrs = {
            "vClass": "bicycle",
            "length": u(1.6, 1.9),
            "width": u(0.55, 0.7),
            "height": u(1.6, 1.8),
            "minGap": 0.5,
            "accel": u(1.0, 1.5),
            "decel": u(2.5, 3.5),
            "sigma": u(0.2, 0.6),
            "maxSpeed": u(4.5, 7.5),
            "speedFactor": "normc(1,0.1,0.6,1.4)",
            "probability": 1.0,
        }
        bikes.append(_vtype(f"bike{i}", attrs))
    peds = []
    for i in range(4):
        attrs = {
            "vClass": "pedestrian",
            "length": u(0.5, 0.8),
            "width": u(0.5, 0.75),
            "height": u(1.55, 1.95),
            "minGap": 0.25,
            "maxSpeed": u(1.1, 1.6),
            "speedFactor": "normc(1,0.1,0.5,1.5)",
            "probability": 1.0,
        }
        peds.append(_vtype(f"ped{i}", attrs))
    veh = (
        "<additional>\n"
        '  <vTypeDistribution id="cars">\n' + "\n".join(cars) + "\n  </vTypeDistribution>\n"
        '  <vTypeDistribution id="bikes">\n' + "\n".join(bikes) + "\n  </vTypeDistribution>\n"
        "</additional>\n"
    )
    ped = (
        "<additional>\n"
        '  <vTypeDistribution id="peds">\n' + "\n".join(peds) + "\n  </vTypeDistribution>\n"
        "</additional>\n"
    )
    return veh, ped


def parked_types(seed: int, max_width: float) -> list[tuple[str, dict]]:
    """8 parked-car types (about 1 in 8 a van), as (id, attributes); no wider than the parking lane.

    vClass "ignoring" lets them stand on a parking lane that permits no class (so that no routed
    vehicle ever enters it); they never drive, so no driver-model attributes are needed.
    """
    rng = np.random.default_rng([seed, 6])

    def u(lo, hi, nd=2):
        return round(float(rng.uniform(lo, hi)), nd)

    out = []
    for i in range(8):
        van = i == 7
        attrs = {
            "vClass": "ignoring",
            "length": u(5.2, 6.5) if van else u(3.8, 5.0),
            "width": min(u(1.95, 2.1) if van else u(1.7, 1.95), round(max_width - 0.1, 2)),
            "height": u(2.0, 2.6) if van else u(1.4, 1.7),
            "minGap": 0.3,
            "guiShape": "delivery" if van else "passenger",
        }
        out.append((f"parked{i}", attrs))
    return out


def types_xml(types: list[tuple[str, dict]]) -> str:
    return "\n".join(_vtype(t, a) for t, a in types)
