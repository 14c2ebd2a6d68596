"""Intersection: a four-way crossing without lights; the east-west road has right of way.

SUMO cars cross in both directions on both roads. One ego drives straight across the main
road from the minor road; the other turns left off the main road across oncoming cars.
"""

from pathlib import Path

from smarts.sstudio.genscenario import gen_scenario
from smarts.sstudio.sstypes import (
    Flow,
    Mission,
    Route,
    Scenario,
    Traffic,
    TrafficActor,
    TrapEntryTactic,
)

car = TrafficActor(name="car")


def cars(begin: str, end: str, per_hour: float) -> Flow:
    return Flow(
        route=Route(begin=(begin, 0, 0), end=(end, 0, "max")),
        rate=per_hour,
        end=300,  # episodes are far shorter than 5 minutes
        randomly_spaced=True,
        actors={car: 1},
    )


# Cars per hour: the main road is the busier one.
crossing = Traffic(
    flows=[
        cars("west_in", "east_out", 800),
        cars("east_in", "west_out", 800),
        cars("north_in", "south_out", 300),
        cars("south_in", "north_out", 300),
        cars("west_in", "north_out", 100),
    ]
)
# Four variations of the same flows: the build draws different car spacings for each.
traffic = {f"crossing_{variant}": crossing for variant in range(4)}

# The egos enter once the first cars have reached the crossing.
enter = TrapEntryTactic(start_time=6, wait_to_hijack_limit_s=0)
ego_missions = [
    # Straight across the main road, from the minor road's south arm to its north arm.
    Mission(Route(begin=("south_in", 0, 15), end=("north_out", 0, 70)), entry_tactic=enter),
    # A left turn off the main road, across oncoming cars, from the east arm to the south arm.
    Mission(Route(begin=("east_in", 0, 40), end=("south_out", 0, 80)), entry_tactic=enter),
]

gen_scenario(
    Scenario(traffic=traffic, ego_missions=ego_missions),
    output_dir=Path(__file__).parent,
)
