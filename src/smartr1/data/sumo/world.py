"""Build one random SUMO world (road network + parked cars + vehicle types + trips) from a world seed.

netgenerate draws the topology, `roads` gives it road classes and junction control, netconvert
builds the network, `parking` fills its parking lanes and randomTrips adds the traffic.

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

from smartr1.data.sumo.parking import parked_xml
from smartr1.data.sumo.roads import RoadSpec, classify, lane_km
from smartr1.data.sumo.vtypes import vtype_xml

LAYOUTS = ("grid", "spider", "rand")
SUBPROCESS_TIMEOUT_S = 300


class WorldError(RuntimeError):
    """A world could not be built or simulated (SUMO error, gridlock, too few usable windows)."""


@dataclass(frozen=True)
class WorldSize:
    """How big and how busy a world is, its road classes and junction control; `TINY` keeps tests fast.

    The defaults were tuned against the real WOMD scenarios (benchmarks/bench_traffic.py): with
    short 80-150 m links, one speed everywhere, a signal at every junction and heavy demand, cars
    spent their time in queues (vehicle speed p90 4 m/s vs 10.6 m/s real).
    """

    # Simulation cost grows with the whole network's traffic while a scenario sees ~60 m of it, so
    # networks stay at roughly 400-900 m across and lightly loaded.
    grid_nodes: tuple[int, int] = (3, 4)  # junctions per direction, inclusive range
    grid_length: tuple[float, float] = (150.0, 230.0)  # m between junctions (city blocks)
    spider_arms: tuple[int, int] = (4, 6)
    spider_circles: tuple[int, int] = (2, 3)
    spider_radius: tuple[float, float] = (100.0, 150.0)
    rand_iterations: tuple[int, int] = (15, 25)
    rand_distance: tuple[float, float] = (140.0, 240.0)  # m between random-net junctions
    # Road classes (see roads.py): share of street length that is arterial, speed limits (km/h,
    # drawn per street in 10 km/h steps), travel lanes per direction, parking-lane probabilities.
    arterial_share: tuple[float, float] = (0.4, 0.6)
    arterial_kmh: tuple[float, float] = (60.0, 80.0)
    residential_kmh: tuple[float, float] = (50.0, 50.0)  # 40 km/h streets kept windows too slow
    arterial_lanes: tuple[int, int] = (2, 2)  # one lane: a truck or a left-turner holds up the platoon
    residential_lanes: tuple[int, int] = (1, 1)
    parking_arterial: tuple[float, float] = (0.25, 0.5)  # per edge side
    parking_residential: tuple[float, float] = (0.4, 0.7)
    parking_occupancy: tuple[float, float] = (0.25, 0.5)  # share of parking-lane length with a car
    # Junction control (see RoadSpec): traffic-light probabilities where arterials / an arterial and
    # a residential street / residential streets meet; of the residential junctions without one,
    # the all-way-stop share, and of the rest the share with stop signs (else yield) on the minor road.
    signal_major: float = 1.0
    signal_minor: float = 0.5
    signal_local: float = 0.0
    allway_local: float = 0.3
    stop_local: float = 1.0
    # Actuated signals (like most US ones) keep the arterial green until cross traffic arrives.
    tls_type: str = "actuated"  # netconvert --tls.default-type
    # Departures per hour per km of lane that the class may use, so that small and large networks
    # are equally busy. Below ~300 cars/h/km queues stay short; more spills back over junctions.
    car_density: tuple[float, float] = (120.0, 300.0)
    # WOMD scenes hold ~0.3 pedestrians and ~0.01 cyclists per vehicle track; more of them also
    # keep turning cars waiting at crossings.
    bike_density: tuple[float, float] = (40.0, 120.0)
    ped_density: tuple[float, float] = (250.0, 600.0)


TINY = WorldSize(
    grid_nodes=(3, 3),
    grid_length=(100.0, 120.0),
    spider_arms=(4, 4),
    spider_circles=(2, 2),
    spider_radius=(80.0, 90.0),
    rand_iterations=(10, 12),
    rand_distance=(100.0, 140.0),
    car_density=(250.0, 400.0),  # busier, so that a few seconds of a small net give SDCs
)


@dataclass(frozen=True)
class WorldSpec:
    """A sampled world: the netgenerate layout, road classes, parking and traffic densities."""

    seed: int
    layout: str
    net_args: tuple[str, ...]  # netgenerate: the topology only
    convert_args: tuple[str, ...]  # netconvert: junctions, signals, sidewalks, bike lanes, crossings
    roads: RoadSpec
    parking_occupancy: float
    car_density: float
    bike_density: float
    ped_density: float
    end_s: float  # trips depart uniformly in [0, end_s)


@dataclass(frozen=True)
class WorldFiles:
    net: Path
    routes: tuple[Path, ...]  # parked cars, car routes, bike routes, pedestrian trips
    pedtypes: Path
    parked: int = 0  # parked cars


def sample_world(
    seed: int, end_s: float, size: WorldSize = WorldSize(), layout: str | None = None
) -> WorldSpec:
    """Draw a network layout (unless given), road classes and traffic densities from `seed`."""
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
            f"--rand.min-distance={size.rand_distance[0]:g}",
            f"--rand.max-distance={size.rand_distance[1]:g}",
            "--rand.grid",
        ]
    args += ["--default-junction-type=traffic_light", f"--seed={seed % 2**31}", "--no-warnings"]
    roads = RoadSpec(
        arterial_share=rf(size.arterial_share, 2),
        arterial_kmh=size.arterial_kmh,
        residential_kmh=size.residential_kmh,
        arterial_lanes=size.arterial_lanes,
        residential_lanes=size.residential_lanes,
        lane_width=rf((3.2, 3.8), 2),
        parking_arterial=rf(size.parking_arterial, 2),
        parking_residential=rf(size.parking_residential, 2),
        parking_width=rf((2.1, 2.5), 2),
        signal_major=size.signal_major,
        signal_minor=size.signal_minor,
        signal_local=size.signal_local,
        allway_local=size.allway_local,
        stop_local=size.stop_local,
    )
    convert = [
        f"--tls.default-type={size.tls_type}",
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
        "--no-warnings",
    ]
    return WorldSpec(
        seed=seed,
        layout=layout,
        net_args=tuple(args),
        convert_args=tuple(convert),
        roads=roads,
        parking_occupancy=rf(size.parking_occupancy, 2),
        car_density=rf(size.car_density),
        bike_density=rf(size.bike_density),
        ped_density=rf(size.ped_density),
        end_s=float(end_s),
    )


def sumo_env() -> dict:
    """Environment for SUMO subprocesses: SUMO_HOME set, the wheel's binaries first on PATH."""
    import sumo  # SUMO: importing it sets SUMO_HOME and PROJ_LIB in os.environ: only when SUMO runs

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
    """Write the road network of `spec` as `workdir/w.net.xml`.

    netgenerate draws the topology (plain XML), `roads.classify` gives the edges their class, speed,
    lanes and parking lanes, and netconvert builds junctions, signals, sidewalks, bike lanes and
    crossings from that.
    """
    import sumo  # SUMO: importing it sets SUMO_HOME and PROJ_LIB in os.environ: only when SUMO runs

    wd = Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    net = wd / "w.net.xml"
    binary = os.path.join(sumo.SUMO_HOME, "bin")
    _run(
        [[os.path.join(binary, "netgenerate"), *spec.net_args, "--plain-output-prefix", "g"]],
        wd,
        "netgenerate",
    )
    rng = np.random.default_rng([spec.seed, 4])
    classify(wd / "g.nod.xml", wd / "g.edg.xml", wd / "w.nod.xml", wd / "w.edg.xml", spec.roads, rng)
    netconvert = [
        os.path.join(binary, "netconvert"), "--node-files", "w.nod.xml", "--edge-files", "w.edg.xml",
        *spec.convert_args, "-o", str(net),
    ]  # fmt: skip
    _run([netconvert], wd, "netconvert")
    return net


def build_world(spec: WorldSpec, workdir: str | Path) -> WorldFiles:
    """Write the net, vehicle types, parked cars and trips of `spec` into `workdir`."""
    import sumo  # SUMO: importing it sets SUMO_HOME and PROJ_LIB in os.environ: only when SUMO runs

    wd = Path(workdir)
    net = build_net(spec, wd)
    veh_xml, ped_xml = vtype_xml(spec.seed)
    (wd / "w.vtypes.xml").write_text(veh_xml)
    (wd / "w.pedtypes.xml").write_text(ped_xml)
    park_xml, parked = parked_xml(net, spec.seed, spec.parking_occupancy)
    (wd / "w.park.rou.xml").write_text(park_xml)
    km = lane_km(net)

    def rate(density: float, cls: str) -> str:  # departures per hour
        return f"{max(density * km[cls], 1.0):.1f}"

    rt = os.path.join(sumo.SUMO_HOME, "tools", "randomTrips.py")
    s = str(spec.seed % 2**31)
    common = ["-n", str(net), "--seed", s, "-b", "0", "-e", f"{spec.end_s:.0f}", "--random-depart"]
    cars = [
        sys.executable, rt, *common, "-a", "w.vtypes.xml", "-r", "w.car.rou.xml", "-o", "w.car.trips.xml",
        "--prefix", "car", "--validate", "--vclass", "passenger", "--insertion-rate", rate(spec.car_density, "passenger"),
        "--fringe-factor", "5", "--min-distance", "150",
        "-t", 'type="cars" departLane="best" departSpeed="max"',
    ]  # fmt: skip
    bikes = [
        sys.executable, rt, *common, "-a", "w.vtypes.xml", "-r", "w.bike.rou.xml", "-o", "w.bike.trips.xml",
        "--prefix", "bike", "--validate", "--vclass", "bicycle", "--insertion-rate", rate(spec.bike_density, "bicycle"),
        "--min-distance", "100", "-t", 'type="bikes" departLane="best"',
    ]  # fmt: skip
    peds = [
        sys.executable, rt, *common, "-o", "w.ped.trips.xml", "--prefix", "ped", "--pedestrians",
        "--insertion-rate", rate(spec.ped_density, "pedestrian"), "--min-distance", "50", "--max-distance", "500",
        "-t", 'type="peds"',
    ]  # fmt: skip
    _run([cars, bikes, peds], wd, "randomTrips")
    routes = (wd / "w.park.rou.xml", wd / "w.car.rou.xml", wd / "w.bike.rou.xml", wd / "w.ped.trips.xml")
    for r in routes:
        if not r.exists():
            raise WorldError(f"randomTrips wrote no {r.name}")
    return WorldFiles(net=net, routes=routes, pedtypes=wd / "w.pedtypes.xml", parked=parked)
