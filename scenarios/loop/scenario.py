"""Loop: a two-lane oval ring road (340 m round) with a few slow SUMO cars circling it.

The ego drives three quarters of the way round (about 250 m, some 20 s) through both
bends. The cars drive at about 30 km/h, so an ego that keeps up its speed must change
lanes to pass them, or slow down behind them.
"""

from pathlib import Path

from smarts.sstudio.genscenario import gen_scenario
from smarts.sstudio.sstypes import (
    Distribution,
    Flow,
    Mission,
    Route,
    Scenario,
    Traffic,
    TrafficActor,
    TrapEntryTactic,
)

# Speed is a factor of the 50 km/h limit.
slow_car = TrafficActor(name="slow_car", speed=Distribution(mean=0.6, sigma=0.1))


def circling_cars(lane: int) -> Flow:
    # Cars enter on the north straight and keep circling.
    return Flow(
        route=Route(begin=("north", lane, "random"), end=("west", lane, "max")),
        rate=480,  # one car every 7.5 s ...
        end=30,  # ... for the first 30 s: four cars per lane.
        repeat_route=True,
        randomly_spaced=True,
        actors={slow_car: 1},
    )


# Four variations of the same flows: the build draws different car spacings for each.
traffic = {
    f"slow_cars_{variant}": Traffic(flows=[circling_cars(lane=0), circling_cars(lane=1)])
    for variant in range(4)
}

# The egos enter once the cars have spread round the ring.
enter = TrapEntryTactic(start_time=10, wait_to_hijack_limit_s=0)
ego_missions = [
    # From the start of the south straight into the west bend, right lane: 3/4 of the way round.
    Mission(Route(begin=("south", 0, 5), end=("west", 0, 25)), entry_tactic=enter),
    # The same distance from the start of the north straight, left lane.
    Mission(Route(begin=("north", 1, 5), end=("east", 1, 25)), entry_tactic=enter),
]

gen_scenario(
    Scenario(traffic=traffic, ego_missions=ego_missions),
    output_dir=Path(__file__).parent,
)
