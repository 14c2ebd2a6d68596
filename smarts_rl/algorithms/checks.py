"""Field checks shared by the algorithms' `Settings.__post_init__`.

Each raises `ValueError` naming the field as the user wrote it (`algo.<field>`),
so a bad override fails before Ray starts.
"""

from numbers import Real
from typing import Any


def fail(field: str, requirement: str, value: Any) -> None:
    raise ValueError(f"algo.{field} must be {requirement}, got {value!r}")


def is_number(value: Any) -> bool:
    # bool is an int subclass; `lr: true` is a typo, not a learning rate.
    return isinstance(value, Real) and not isinstance(value, bool)


def positive(field: str, value: Any) -> None:
    if not is_number(value) or value <= 0:
        fail(field, "> 0", value)


def non_negative(field: str, value: Any) -> None:
    if not is_number(value) or value < 0:
        fail(field, ">= 0", value)


def at_least_one(field: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        fail(field, "an integer >= 1", value)


def discount(field: str, value: Any) -> None:
    if not is_number(value) or not 0 < value <= 1:
        fail(field, "in (0, 1]", value)


def one_of(field: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        fail(field, "one of " + ", ".join(map(str, allowed)), value)


def optional_positive(field: str, value: Any) -> None:
    if value is not None:
        positive(field, value)


def hidden_sizes(field: str, value: Any) -> None:
    if not value or not all(isinstance(n, int) and n >= 1 for n in value):
        fail(field, "a non-empty list of positive layer sizes", value)


def lr_or_schedule(field: str, value: Any) -> Any:
    """A learning rate > 0, or RLlib's `[[timestep, lr], ...]` schedule.

    Returns the value in the form RLlib expects (floats, lists of lists).
    """
    if is_number(value):
        positive(field, value)
        return float(value)
    return _schedule(field, value, "> 0 or a schedule [[0, lr0], [timestep, lr], ...] with all lr > 0",
                     lambda lr: lr > 0)


def number_or_schedule(field: str, value: Any) -> Any:
    """A number, or a piecewise-linear `[[env_step, value], ...]` schedule starting at step 0."""
    if is_number(value):
        return float(value)
    return _schedule(field, value, "a number or a schedule [[0, value0], [env_step, value], ...]",
                     lambda _: True)


def _schedule(field: str, value: Any, schedule_form: str, valid_value) -> list:
    if not isinstance(value, (list, tuple)) or len(value) < 2:
        fail(field, schedule_form, value)
    pairs = []
    for pair in value:
        if (
            not isinstance(pair, (list, tuple))
            or len(pair) != 2
            or not all(is_number(x) for x in pair)
            or not valid_value(pair[1])
            or pair[0] < 0
        ):
            fail(field, schedule_form, value)
        pairs.append([int(pair[0]), float(pair[1])])
    if pairs[0][0] != 0:
        fail(field, schedule_form + " (first timestep 0)", value)
    if any(b[0] <= a[0] for a, b in zip(pairs, pairs[1:])):
        fail(field, schedule_form + " (timesteps increasing)", value)
    return pairs
