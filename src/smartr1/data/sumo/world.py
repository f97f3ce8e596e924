"""Build one random SUMO world (road network + vehicle types + trips) from a world seed.

Everything here is a pure function of the seed and the `WorldSize`, so a world can be rebuilt
bit-identically (the XML header comments carry a timestamp, but nothing reads them).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LAYOUTS = ("grid", "spider", "rand")
SUBPROCESS_TIMEOUT_S = 300


class WorldError(RuntimeError):
    """A world could not be built or simulated (SUMO error, gridlock, too few usable windows)."""


@dataclass(frozen=True)
class WorldSize:
    """How big and how busy a world is; `tiny` keeps tests fast."""

    # Simulation cost grows with the whole network's traffic while a scenario sees ~60 m of it, so
    # networks stay at roughly 300-500 m across.
    grid_nodes: tuple[int, int] = (3, 4)  # junctions per direction, inclusive range
    grid_length: tuple[float, float] = (80.0, 150.0)
    spider_arms: tuple[int, int] = (4, 6)
    spider_circles: tuple[int, int] = (2, 3)
    spider_radius: tuple[float, float] = (60.0, 100.0)
    rand_iterations: tuple[int, int] = (12, 25)
    lanes: tuple[int, int] = (1, 3)
    # Departures per hour per km of road (randomTrips --insertion-density), so that small and large
    # networks are equally busy.
    car_density: tuple[float, float] = (400.0, 800.0)
    bike_density: tuple[float, float] = (40.0, 120.0)
    ped_density: tuple[float, float] = (250.0, 600.0)


TINY = WorldSize(
    grid_nodes=(3, 3),
    grid_length=(100.0, 120.0),
    spider_arms=(4, 4),
    spider_circles=(2, 2),
    spider_radius=(80.0, 90.0),
    rand_iterations=(10, 12),
    lanes=(1, 2),
)


@dataclass(frozen=True)
class WorldSpec:
    """A sampled world: the netgenerate layout plus traffic densities."""

    seed: int
    layout: str
    net_args: tuple[str, ...]
    car_density: float
    bike_density: float
    ped_density: float
    end_s: float  # trips depart uniformly in [0, end_s)


@dataclass(frozen=True)
class WorldFiles:
    net: Path
    routes: tuple[Path, ...]  # car routes, bike routes, pedestrian trips
    pedtypes: Path


def sample_world(
    seed: int, end_s: float, size: WorldSize = WorldSize(), layout: str | None = None
) -> WorldSpec:
    """Draw a network layout (unless given) and traffic densities from `seed`."""
    rng = np.random.default_rng([seed, 1])
    drawn = LAYOUTS[int(rng.integers(len(LAYOUTS)))]
    layout = layout or drawn
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}, expected one of {LAYOUTS}")

    def ri(r):
        return int(rng.integers(r[0], r[1] + 1))

    def rf(r, nd=1):
        return round(float(rng.uniform(r[0], r[1])), nd)

    if layout == "grid":
        args = [
            "--grid",
            f"--grid.x-number={ri(size.grid_nodes)}",
            f"--grid.y-number={ri(size.grid_nodes)}",
            f"--grid.x-length={rf(size.grid_length)}",
            f"--grid.y-length={rf(size.grid_length)}",
            "--grid.attach-length=60",
        ]
    elif layout == "spider":
        args = [
            "--spider",
            f"--spider.arm-number={ri(size.spider_arms)}",
            f"--spider.circle-number={ri(size.spider_circles)}",
            f"--spider.space-radius={rf(size.spider_radius)}",
            "--spider.omit-center",
        ]
    else:
        args = [
            "--rand",
            f"--rand.iterations={ri(size.rand_iterations)}",
            "--rand.min-distance=80",
            "--rand.max-distance=160",
            "--rand.grid",
        ]
    lanes = ri(size.lanes)
    args += [f"--default.lanenumber={lanes}"]
    if lanes > 1 and rng.random() < 0.3:
        args += ["--random-lanenumber"]
    args += [
        f"--default.lanewidth={rf((3.2, 3.8), 2)}",
        f"--default.speed={rf((11.0, 17.0), 2)}",
        "--default-junction-type=traffic_light",
        "--tls.default-type=static",
        f"--tls.cycle.time={int(rng.choice([60, 80, 90]))}",
        # The guessing thresholds default to 13.89 m/s; every road here gets sidewalks, bike lanes, crossings.
        "--sidewalks.guess",
        "--sidewalks.guess.max-speed=30",
        "--crossings.guess",
        "--crossings.guess.speed-threshold=30",
        "--bikelanes.guess",
        "--bikelanes.guess.max-speed=30",
        "--junctions.corner-detail=5",
        "--no-turnarounds",
        f"--default.junctions.radius={rf((5.0, 12.0))}",
        f"--seed={seed % 2**31}",
        "--no-warnings",
    ]
    return WorldSpec(
        seed=seed,
        layout=layout,
        net_args=tuple(args),
        car_density=rf(size.car_density),
        bike_density=rf(size.bike_density),
        ped_density=rf(size.ped_density),
        end_s=float(end_s),
    )


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
        model = ["Krauss", "IDM", "EIDM"][int(rng.integers(3))]
        attrs = {
            "vClass": "truck" if truck else "passenger",
            "length": u(7.0, 12.0) if truck else u(3.9, 5.2),
            "width": u(2.4, 2.55) if truck else u(1.7, 2.0),
            "height": u(3.0, 3.8) if truck else u(1.4, 1.9),
            "minGap": u(2.0, 3.0),
            "accel": u(0.8, 1.4) if truck else u(2.0, 3.2),
            "decel": u(3.0, 4.0) if truck else u(3.8, 5.0),
            "emergencyDecel": 9.0,
            "sigma": u(0.1, 0.7),
            "tau": u(0.8, 1.6),
            "speedFactor": f"normc({u(0.9, 1.15)},0.1,0.6,1.6)",
            "carFollowModel": model,
            "lcStrategic": u(0.5, 2.0),
            "lcCooperative": u(0.5, 1.0),
            "lcSpeedGain": u(0.5, 2.0),
            "lcKeepRight": u(0.5, 2.0),
            "lcAssertive": u(1.0, 2.0),
            "lcSigma": u(0.0, 0.3),
            "impatience": u(0.0, 0.6),
            "probability": u(0.3, 1.0) if truck else u(0.5, 1.5),
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


def sumo_env() -> dict:
    """Environment for SUMO subprocesses: SUMO_HOME set, the wheel's binaries first on PATH."""
    import sumo

    env = dict(os.environ)
    env["SUMO_HOME"] = sumo.SUMO_HOME
    env["PATH"] = os.path.join(sumo.SUMO_HOME, "bin") + os.pathsep + env.get("PATH", "")
    return env


def _run(cmds: list[list[str]], cwd: Path, what: str) -> None:
    """Run commands concurrently; raise WorldError with the tail of stderr if any fails."""
    env = sumo_env()
    procs = [
        subprocess.Popen(c, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for c in cmds
    ]
    errors = []
    for c, p in zip(cmds, procs, strict=True):
        try:
            out, err = p.communicate(timeout=SUBPROCESS_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
                q.wait()
            raise WorldError(f"{what} took longer than {SUBPROCESS_TIMEOUT_S} s") from None
        if p.returncode != 0:
            errors.append(f"{Path(c[1] if c[0] == sys.executable else c[0]).name}: {(err or out)[-600:]}")
    if errors:
        raise WorldError(f"{what} failed: " + " | ".join(errors))


def build_net(spec: WorldSpec, workdir: str | Path) -> Path:
    """Write the road network of `spec` as `workdir/w.net.xml`."""
    import sumo

    wd = Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    net = wd / "w.net.xml"
    netgenerate = os.path.join(sumo.SUMO_HOME, "bin", "netgenerate")
    _run([[netgenerate, *spec.net_args, "-o", str(net)]], wd, "netgenerate")
    return net


def build_world(spec: WorldSpec, workdir: str | Path) -> WorldFiles:
    """Write the net, vehicle types and trips of `spec` into `workdir`."""
    import sumo

    wd = Path(workdir)
    net = build_net(spec, wd)
    veh_xml, ped_xml = vtype_xml(spec.seed)
    (wd / "w.vtypes.xml").write_text(veh_xml)
    (wd / "w.pedtypes.xml").write_text(ped_xml)
    rt = os.path.join(sumo.SUMO_HOME, "tools", "randomTrips.py")
    s = str(spec.seed % 2**31)
    common = ["-n", str(net), "--seed", s, "-b", "0", "-e", f"{spec.end_s:.0f}", "--random-depart"]
    cars = [
        sys.executable, rt, *common, "-a", "w.vtypes.xml", "-r", "w.car.rou.xml", "-o", "w.car.trips.xml",
        "--prefix", "car", "--validate", "--vclass", "passenger", "--insertion-density", str(spec.car_density),
        "--fringe-factor", "5", "--min-distance", "150",
        "-t", 'type="cars" departLane="best" departSpeed="max"',
    ]  # fmt: skip
    bikes = [
        sys.executable, rt, *common, "-a", "w.vtypes.xml", "-r", "w.bike.rou.xml", "-o", "w.bike.trips.xml",
        "--prefix", "bike", "--validate", "--vclass", "bicycle", "--insertion-density", str(spec.bike_density),
        "--min-distance", "100", "-t", 'type="bikes" departLane="best"',
    ]  # fmt: skip
    peds = [
        sys.executable, rt, *common, "-o", "w.ped.trips.xml", "--prefix", "ped", "--pedestrians",
        "--insertion-density", str(spec.ped_density), "--min-distance", "50", "--max-distance", "500", "-t", 'type="peds"',
    ]  # fmt: skip
    _run([cars, bikes, peds], wd, "randomTrips")
    routes = (wd / "w.car.rou.xml", wd / "w.bike.rou.xml", wd / "w.ped.trips.xml")
    for r in routes:
        if not r.exists():
            raise WorldError(f"randomTrips wrote no {r.name}")
    return WorldFiles(net=net, routes=routes, pedtypes=wd / "w.pedtypes.xml")
