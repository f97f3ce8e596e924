"""Road classes, junction control, parking lanes and parked-car placement (netgenerate/netconvert
only, no simulation)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from smartr1.data.sumo.parking import GAP, MARGIN_END, MARGIN_START, parked_xml, parking_lanes
from smartr1.data.sumo.roads import lane_km, streets
from smartr1.data.sumo.world import TINY, WorldSize, build_net, sample_world

pytestmark = pytest.mark.sumo


def test_streets_follow_straight_lines_through_junctions():
    # A 3x3 grid: three rows and three columns, each one street however many segments it has.
    nodes = {f"{i}{j}": (100.0 * i, 100.0 * j) for i in range(3) for j in range(3)}
    pairs = [(f"{i}{j}", f"{i + 1}{j}") for i in range(2) for j in range(3)]
    pairs += [(f"{i}{j}", f"{i}{j + 1}") for i in range(3) for j in range(2)]
    street = streets(nodes, pairs)
    assert len(set(street)) == 6
    for j in range(3):  # a row's two segments share a street, different from every column
        assert street[pairs.index((f"0{j}", f"1{j}"))] == street[pairs.index((f"1{j}", f"2{j}"))]
    assert street[pairs.index(("00", "10"))] != street[pairs.index(("00", "01"))]


def test_streets_do_not_continue_around_corners():
    nodes = {"a": (0.0, 0.0), "b": (100.0, 0.0), "c": (100.0, 100.0), "d": (200.0, 10.0)}
    street = streets(nodes, [("a", "b"), ("b", "c"), ("b", "d")])
    assert street[0] == street[2] != street[1]  # a-b-d is nearly straight, b-c turns 90 degrees


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    size = WorldSize(grid_nodes=(4, 4), parking_residential=(1.0, 1.0), parking_arterial=(0.0, 0.0))
    spec = sample_world(3, 100.0, size, layout="grid")
    wd = tmp_path_factory.mktemp("grid")
    return spec, size, build_net(spec, wd), wd


def _edges(path):
    return list(ET.parse(path).getroot().iter("edge"))


def test_road_classes_speeds_lanes_and_parking(grid):
    spec, size, net, wd = grid
    edges = _edges(wd / "w.edg.xml")
    kmh = np.array([float(e.get("speed")) * 3.6 for e in edges])
    arterial = kmh > size.residential_kmh[1] + 1
    assert arterial.any() and (~arterial).any()
    assert set(np.round(kmh[arterial])) <= {60.0, 70.0, 80.0}
    assert set(np.round(kmh[~arterial])) <= {40.0, 50.0}
    for e, art in zip(edges, arterial, strict=True):
        park = [ln for ln in e.iter("lane") if ln.get("disallow") == "all"]
        travel = int(e.get("numLanes")) - len(park)
        assert travel == (2 if art else 1)
        assert len(park) == (0 if art else 1)  # residential parking probability 1, arterial 0
        if park:
            assert park[0].get("index") == "0"
    # Junctions: signals where arterials meet, stop signs elsewhere, plain priority at dead ends.
    types = {n.get("type") for n in ET.parse(wd / "w.nod.xml").getroot().iter("node")}
    assert types <= {"traffic_light", "priority_stop", "allway_stop", "priority"}
    assert "traffic_light" in types and types & {"priority_stop", "allway_stop"}


def test_built_net_puts_parking_between_bike_lane_and_travel_lane(grid):
    _, _, net, _ = grid
    lanes = parking_lanes(net)
    assert lanes
    by_id = {e.get("id"): e for e in _edges(net) if not e.get("function")}
    for p in lanes:
        order = [ln.get("allow") or ln.get("disallow") for ln in by_id[p.edge].iter("lane")]
        assert order[:3] == ["pedestrian", "bicycle", "all"] and p.index == 2
    km = lane_km(net)
    assert km["passenger"] > 0 and km["bicycle"] > 0 and km["pedestrian"] > 0
    total = sum(float(ln.get("length")) for e in by_id.values() for ln in e.iter("lane")) / 1000
    assert km["passenger"] + km["bicycle"] + km["pedestrian"] < total  # parking lanes not counted


def test_parked_cars_fill_slots_without_overlap(grid):
    spec, _, net, _ = grid
    xml, n = parked_xml(net, spec.seed, 0.6)
    root = ET.fromstring(xml)
    lengths = {t.get("id"): float(t.get("length")) for t in root.iter("vType")}
    assert all(t.get("vClass") == "ignoring" for t in root.iter("vType"))
    cars = list(root.iter("vehicle"))
    assert len(cars) == n > 0
    lane_len = {p.lane: p.length for p in parking_lanes(net)}
    slots: dict[str, list[tuple[float, float]]] = {}
    for v in cars:
        stop = v.find("stop")
        front = float(stop.get("endPos"))
        assert float(v.get("departPos")) == front and v.get("depart") == "0"
        assert stop.get("parking") == "true" and float(stop.get("duration")) > 1e6
        back = front - lengths[v.get("type")]
        assert MARGIN_START - 1e-6 <= back and front <= lane_len[stop.get("lane")] - MARGIN_END + 1e-6
        slots.setdefault(stop.get("lane"), []).append((back, front))
    for s in slots.values():
        s.sort()
        gaps = [b2 - f1 for (_, f1), (b2, _) in zip(s, s[1:], strict=False)]
        assert min(gaps, default=GAP[0]) >= GAP[0] - 1e-6


def test_world_is_reproducible(tmp_path):
    a = build_net(sample_world(5, 100.0, TINY), tmp_path / "a")
    b = build_net(sample_world(5, 100.0, TINY), tmp_path / "b")
    body = [p.read_text().split("-->", 1)[-1] for p in (a, b)]  # skip the timestamped header
    assert body[0] == body[1]
    assert parked_xml(a, 5, 0.5) == parked_xml(b, 5, 0.5)
