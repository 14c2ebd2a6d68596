"""Intersection: a four-way crossing without lights; the east-west road has right of way.

SUMO cars cross in both directions on both roads. One ego drives straight across the main
road from the minor road; the other turns left off the main road across oncoming cars.

Traffic, in cars per hour: 800 each way along the main road, 300 each way along the minor
road and 100 turning left off the main road from the west, at random spacing (at least
1 s apart), and already on every arm, coming and going, on the first step. Each traffic
variation places those first cars at its own seeded random gaps, keeping 10 m behind to
20 m ahead of each ego's start free; from then on SUMO lets cars in at the ends of the arms
at the same rates (its draws change with each episode's seed). The egos enter at their
mission starts at the speed limit on the second step of an episode, and never take over a
traffic car.
"""

import random
from pathlib import Path

from smarts.core.utils.sumo_utils import sumolib
from smarts.sstudio.genscenario import gen_scenario
from smarts.sstudio.sstypes import (
    Flow,
    Mission,
    Route,
    Scenario,
    Traffic,
    TrafficActor,
    Trip,
    TrapEntryTactic,
)

HERE = Path(__file__).parent
SPEED_M_S = 13.89  # the limit on every arm
MIN_HEADWAY_S = 1.0
VARIATIONS = 8

# Cars per hour on each route: the main road is the busier one.
ROUTES = {
    ("west_in", "east_out"): 800,
    ("east_in", "west_out"): 800,
    ("north_in", "south_out"): 300,
    ("south_in", "north_out"): 300,
    ("west_in", "north_out"): 100,
}
# (road, offset) of each ego's start, and the stretch round it kept free of cars.
EGO_STARTS = [("south_in", 15.0), ("east_in", 40.0)]
FREE_BEHIND_M, FREE_AHEAD_M = 10.0, 20.0

car = TrafficActor(name="car")
net = sumolib.net.readNet(str(HERE / "map.net.xml"))


def arm_rates() -> dict[str, dict[str, float]]:
    """Each arm's cars per hour, by the route's other arm: an arm carries every route that
    starts or ends on it."""
    rates: dict[str, dict[str, float]] = {}
    for (begin, end), per_hour in ROUTES.items():
        rates.setdefault(begin, {})[end] = per_hour
        rates.setdefault(end, {})[begin] = per_hour
    return rates


def free_of_egos(road: str, offset: float) -> bool:
    return all(
        road != ego_road or not (start - FREE_BEHIND_M < offset < start + FREE_AHEAD_M)
        for ego_road, start in EGO_STARTS
    )


def first_cars(road: str, routes: dict[str, float], rng: random.Random) -> list[tuple[str, float, str]]:
    """(road, offset, last road) of the cars on one arm at the start, walking back from its
    end with the arm's random headways (exponential, at least `MIN_HEADWAY_S`); each takes
    one of the arm's routes in proportion to its rate."""
    length = net.getEdge(road).getLane(0).getLength()
    mean_gap = SPEED_M_S * 3600 / sum(routes.values())
    others, weights = list(routes), list(routes.values())
    trips = []
    offset = length - rng.expovariate(1 / mean_gap)
    while offset > 0:
        other = rng.choices(others, weights)[0]
        # SUMO places a car by its front: it must fit on the arm.
        if 6.0 <= offset <= length - 1.0 and free_of_egos(road, offset):
            end = other if road.endswith("_in") else road
            trips.append((road, offset, end))
        offset -= max(SPEED_M_S * MIN_HEADWAY_S, rng.expovariate(1 / mean_gap))
    return trips


def crossing(variant: int) -> Traffic:
    rng = random.Random(variant)
    placed = [spot for road, routes in arm_rates().items() for spot in first_cars(road, routes, rng)]
    return Traffic(
        flows=[cars(begin, end, per_hour) for (begin, end), per_hour in ROUTES.items()],
        trips=[
            Trip(
                vehicle_name=f"car-first-{i}",
                route=Route(begin=(road, 0, offset), end=(end, 0, "max")),
                depart=0,
                actor=car,
            )
            for i, (road, offset, end) in enumerate(placed)
        ],
    )


def cars(begin: str, end: str, per_hour: float) -> Flow:
    return Flow(
        route=Route(begin=(begin, 0, 0), end=(end, 0, "max")),
        rate=per_hour,
        end=300,  # episodes are far shorter than 5 minutes
        randomly_spaced=True,
        actors={car: 1},
    )


traffic = {f"crossing_{variant}": crossing(variant) for variant in range(VARIATIONS)}

# Entering at once (SMARTS adds a trap's new vehicle on the second step at the earliest);
# never taking over a traffic car, which would move the ego's start to wherever that car was.
enter = TrapEntryTactic(start_time=0, wait_to_hijack_limit_s=0, exclusion_prefixes=("car",))
ego_missions = [
    # Straight across the main road, from the minor road's south arm to its north arm.
    Mission(Route(begin=("south_in", 0, 15), end=("north_out", 0, 70)), entry_tactic=enter),
    # A left turn off the main road, across oncoming cars, from the east arm to the south arm.
    Mission(Route(begin=("east_in", 0, 40), end=("south_out", 0, 80)), entry_tactic=enter),
]

gen_scenario(
    Scenario(traffic=traffic, ego_missions=ego_missions),
    output_dir=HERE,
)
