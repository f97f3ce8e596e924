"""SUMO as an embedded scenario generator: random worlds -> libsumo logs -> WOMD-format scenarios.

world.py builds a network and traffic, record.py simulates and logs it, convert.py maps SUMO
conventions to WOMD, map_extract.py builds the map, windows.py cuts 91-step scenarios, and
generate.py runs worlds in parallel processes (`generate(num, out, seed)`).
"""
