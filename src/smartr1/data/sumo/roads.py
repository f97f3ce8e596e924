"""Road classes for a netgenerate topology: arterials and residential streets, and parking lanes.

netgenerate gives every edge the same speed and lane count, so cars either crawl everywhere or race
everywhere. Real towns have a few long, fast, multi-lane arterials (60-80 km/h) and many slow
residential streets (30-50 km/h) lined with parked cars. Here the straight chains of edges through
the junctions are found ("streets"), some of the longest become arterials, and every edge gets the
speed, lane count and (maybe) curb-side parking lane of its class. Junctions get their control from
the classes that meet (signals on arterials, stop signs on residential crossings), since a signal
at every junction kept half of all cars waiting at red. The result is plain-XML node and edge files
for netconvert, which then adds sidewalks, bike lanes, crossings and the signal programs.

A parking lane permits no vehicle class (`disallow="all"`), so netconvert builds no connections or
signal links for it and no routed vehicle ever enters it; parked cars stand on it (see `parking.py`).
After netconvert's bike lane and sidewalk guessing the lane order from the curb is
sidewalk | bike lane | parking lane | travel lanes, so parked cars stand inside the curb, beside the
travel lane.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

STRAIGHT_COS = math.cos(math.radians(150.0))  # segments continue a street if they meet at >= 150 degrees


@dataclass(frozen=True)
class RoadSpec:
    """Per-world road-class parameters (drawn by `sample_world`)."""

    arterial_share: float  # target fraction of street length that is arterial
    arterial_kmh: tuple[float, float]  # speed limits are drawn per street from this range, 10 km/h steps
    residential_kmh: tuple[float, float]
    arterial_lanes: tuple[int, int]  # travel lanes per direction, inclusive range, per street
    residential_lanes: tuple[int, int]
    lane_width: float
    parking_arterial: float  # probability that one side of an arterial edge has a parking lane
    parking_residential: float
    parking_width: float
    # Junction control by the classes that meet: probability of a traffic light where two arterials
    # meet, where an arterial meets a residential street, where residential streets meet; the others
    # get stop signs on the minor road (`priority_stop`), residential ones sometimes all-way stops.
    signal_major: float = 1.0
    signal_minor: float = 1.0
    signal_local: float = 1.0
    allway_local: float = 0.0
    stop_local: float = 1.0  # where residential streets meet without either: stop sign, else yield


def _read(path: Path) -> ET.ElementTree:
    return ET.parse(path)


def streets(nodes: dict[str, tuple[float, float]], pairs: list[tuple[str, str]]) -> list[int]:
    """Street index of every undirected segment (a, b): segments that meet nearly straight at a node
    (angle >= 150 degrees, straightest pairs first) belong to the same street."""
    parent = list(range(len(pairs)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    at: dict[str, list[tuple[int, np.ndarray]]] = {}
    for i, (a, b) in enumerate(pairs):
        pa, pb = np.asarray(nodes[a]), np.asarray(nodes[b])
        d = pb - pa
        n = float(np.hypot(*d))
        if n < 1e-6:
            continue
        at.setdefault(a, []).append((i, d / n))
        at.setdefault(b, []).append((i, -d / n))
    for node in sorted(at):
        inc = at[node]
        cand = []
        for j in range(len(inc)):
            for k in range(j + 1, len(inc)):
                c = float(inc[j][1] @ inc[k][1])
                if c <= STRAIGHT_COS:
                    cand.append((c, inc[j][0], inc[k][0]))
        used: set[int] = set()
        for _, i, k in sorted(cand):
            if i in used or k in used:
                continue
            used.update((i, k))
            parent[find(i)] = find(k)
    roots = sorted({find(i) for i in range(len(pairs))})
    index = {r: n for n, r in enumerate(roots)}
    return [index[find(i)] for i in range(len(pairs))]


def _kmh(rng: np.random.Generator, r: tuple[float, float]) -> float:
    steps = np.arange(r[0], r[1] + 1e-6, 10.0)
    return float(steps[int(rng.integers(len(steps)))]) if len(steps) else float(r[0])


def classify(
    nodes_file: Path,
    edges_file: Path,
    out_nodes: Path,
    out_edges: Path,
    spec: RoadSpec,
    rng: np.random.Generator,
) -> dict[str, str]:
    """Give netgenerate's plain nodes and edges road classes, speeds, lanes, parking lanes and
    junction control; write them to `out_nodes` / `out_edges`; returns edge id -> class."""
    node_tree = _read(nodes_file)
    node_el = {n.get("id"): n for n in node_tree.getroot().iter("node")}
    nodes = {k: (float(n.get("x")), float(n.get("y"))) for k, n in node_el.items()}
    tree = _read(edges_file)
    edges = list(tree.getroot().iter("edge"))
    pairs: list[tuple[str, str]] = []
    pair_of: dict[frozenset, int] = {}
    for e in edges:
        key = frozenset((e.get("from"), e.get("to")))
        if key not in pair_of:
            pair_of[key] = len(pairs)
            pairs.append((e.get("from"), e.get("to")))
    street = streets(nodes, pairs)
    n_streets = max(street, default=-1) + 1
    length = np.zeros(n_streets)
    for i, (a, b) in enumerate(pairs):
        length[street[i]] += math.dist(nodes[a], nodes[b])

    # Longest streets first (random among similar lengths), until the arterial share is reached.
    order = np.argsort(-(length * rng.uniform(0.7, 1.3, n_streets)), kind="stable")
    arterial = np.zeros(n_streets, bool)
    total, acc = float(length.sum()), 0.0
    for s in order:
        if acc >= spec.arterial_share * total:
            break
        arterial[s] = True
        acc += length[s]
    speed = [_kmh(rng, spec.arterial_kmh if arterial[s] else spec.residential_kmh) for s in range(n_streets)]
    lanes_r = [spec.arterial_lanes if arterial[s] else spec.residential_lanes for s in range(n_streets)]
    lanes = [int(rng.integers(r[0], r[1] + 1)) for r in lanes_r]
    # Priority decides who yields at unsignalled junctions: arterials first, then a random order.
    priority = [4 if arterial[s] else int(rng.integers(1, 3)) for s in range(n_streets)]

    classes = {}
    for e in edges:
        s = street[pair_of[frozenset((e.get("from"), e.get("to")))]]
        art = bool(arterial[s])
        for child in list(e):
            if child.tag == "lane":
                e.remove(child)
        n = lanes[s]
        park = rng.random() < (spec.parking_arterial if art else spec.parking_residential)
        e.set("speed", f"{speed[s] / 3.6:.2f}")
        e.set("priority", str(priority[s]))
        e.set("numLanes", str(n + park))
        e.set("width", f"{spec.lane_width:.2f}")
        if park:
            ET.SubElement(e, "lane", index="0", disallow="all", width=f"{spec.parking_width:.2f}")
        classes[e.get("id")] = "arterial" if art else "residential"
    tree.write(out_edges, encoding="utf-8", xml_declaration=True)

    at: dict[str, set[int]] = {k: set() for k in nodes}
    legs: dict[str, int] = {k: 0 for k in nodes}
    for i, (a, b) in enumerate(pairs):
        for n in (a, b):
            at[n].add(street[i])
            legs[n] += 1
    for k in sorted(nodes):
        el = node_el[k]
        el.attrib.pop("tl", None)
        kinds = sorted(arterial[s] for s in at[k])
        if legs[k] <= 2:
            control = "priority"  # a dead end or a bend
        else:
            p = (spec.signal_local, spec.signal_minor, spec.signal_major)[min(int(sum(kinds)), 2)]
            if rng.random() < p:
                control = "traffic_light"
            elif any(kinds):
                control = "priority_stop"
            elif rng.random() < spec.allway_local:
                control = "allway_stop"
            else:
                control = "priority_stop" if rng.random() < spec.stop_local else "priority"
        el.set("type", control)
    node_tree.write(out_nodes, encoding="utf-8", xml_declaration=True)
    return classes


def lane_km(net_file: str | Path) -> dict[str, float]:
    """Kilometres of lane in a built network that permit cars, bikes and pedestrians (normal edges).

    Demand is set per km of the lanes a class can use: randomTrips' own --insertion-density counts
    every lane of an edge (sidewalk, bike and parking lanes too), which would make a world with
    parking lanes busier for no reason.
    """
    km = {"passenger": 0.0, "bicycle": 0.0, "pedestrian": 0.0}
    for e in ET.parse(net_file).getroot().iter("edge"):
        if e.get("function"):
            continue
        for ln in e.iter("lane"):
            allow = (ln.get("allow") or "").split()
            disallow = (ln.get("disallow") or "").split()
            for c in km:
                if (c in allow) if allow else ("all" not in disallow and c not in disallow):
                    km[c] += float(ln.get("length")) / 1000.0
    return km
