"""`python -m smarts_rl.<command> key=value ...`: the one command-line convention of the commands
beside train.py, a thin adapter over their Python functions.

- `key=value` sets a field of the command's options dataclass (nested ones dotted: `agents.count=2`),
  read by the field's type: a string as it is written (a path, `a,b`), a list as YAML (`[a,~/b]`),
  anything else in Hydra's override grammar (`2`, `true`, `null`, `1e-3`) and checked by OmegaConf.
- `--help` lists every key with its default and its docstring.
- `-m` (where a command allows it) runs every combination of comma-separated values, in Hydra's
  override grammar (`run=a,b checkpoint=best,latest`, `episodes=range(1,4)`; a quoted value holds a
  comma); every job is checked before the first one starts. Only Hydra's grammar is used: a command
  writes nothing of Hydra's own (no outputs/, .hydra/ or log) and keeps the working directory.
- A mistake is one line, `<command>: error: <what>`, naming the key, and exit code 2, before
  anything runs.

A command's module is also its Python function (`callable_module`): `smarts_rl.evaluate(run=...)`
takes the same keys as keyword arguments (or an options object) and returns the result.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import os
import re
import sys
import textwrap
import types
import typing
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Callable, Optional

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from smarts_rl.errors import USAGE_EXIT_CODE, UsageError, one_line

HELP_FLAGS = {"-h", "--help"}
MULTIRUN_FLAGS = {"-m", "--multirun"}
KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


@dataclass(frozen=True)
class Command:
    """A command: its options, what checks and runs a job of it, and how its command line reads."""

    program: str
    """The `<command>` of `python -m smarts_rl.<command>`, which its messages start with."""
    options: type
    """The options dataclass: one key per field; the fields' docstrings are `--help`'s."""
    about: str
    """What `--help` prints above the keys."""
    check: Callable[[Any], Any]
    """Options → a checked job (raises UsageError): everything that can be checked before it runs."""
    run: Callable[[Any], Any]
    """A checked job → its result."""
    show: Callable[[Any], None]
    """Prints a result."""
    multirun: bool = False
    """Whether `-m` runs every combination of swept values."""
    check_jobs: Optional[Callable[[list], None]] = None
    """Checks a multirun's checked jobs together (e.g. that no two write to one place)."""
    rewrite: Optional[Callable[[list[str], bool], list[str]]] = None
    """The command line's `key=value` arguments (and whether it is a multirun) → the options' keys:
    for shorthands such as evaluate's `scenario=<name>`."""
    positional: Optional[str] = None
    """The key that arguments without `=` give (report's directories)."""
    rest: Optional[str] = None
    """The list key that collects every other `key=value` (check_env's train.py overrides)."""
    flags: bool = False
    """Whether `--key value` says `key=value` too (`--max-capacity-mb 500`: `max_capacity_mb=500`)."""
    failures_are_one_line: bool = False
    """Whether a failure while running is also one line and exit code 2, not a traceback."""


# -- the options' keys --------------------------------------------------------------------------


def key_types(schema: type, prefix: str = "") -> dict[str, Any]:
    """Every key of an options dataclass, nested ones dotted, and its type (`Optional[int]`, ...)."""
    hints = typing.get_type_hints(schema)
    keys = {}
    for f in dataclasses.fields(schema):
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            keys.update(key_types(kind, f"{prefix}{f.name}."))
        else:
            keys[f"{prefix}{f.name}"] = kind
    return keys


def key_defaults(schema: type, prefix: str = "") -> dict[str, Any]:
    defaults = {}
    for f in dataclasses.fields(schema):
        if f.default is not dataclasses.MISSING:
            defaults[f"{prefix}{f.name}"] = f.default
        elif dataclasses.is_dataclass(f.default_factory):
            defaults.update(key_defaults(f.default_factory, f"{prefix}{f.name}."))
        elif f.default_factory is not dataclasses.MISSING:
            defaults[f"{prefix}{f.name}"] = f.default_factory()
    return defaults


def key_docs(schema: type, prefix: str = "") -> dict[str, str]:
    """Each key's docstring (the string under its field), on one line."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(schema)))
    body = tree.body[0].body
    docs = {}
    for field, after in zip(body, body[1:]):
        if isinstance(field, ast.AnnAssign) and isinstance(field.target, ast.Name) and \
                isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str):
            docs[f"{prefix}{field.target.id}"] = " ".join(after.value.value.split())
    hints = typing.get_type_hints(schema)
    for f in dataclasses.fields(schema):
        if dataclasses.is_dataclass(hints[f.name]):
            docs.update(key_docs(hints[f.name], f"{prefix}{f.name}."))
    return docs


def without_optional(kind: Any) -> tuple[Any, bool]:
    """(`int`, True) for `Optional[int]`."""
    args = typing.get_args(kind)
    if typing.get_origin(kind) is typing.Union and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else typing.Union[tuple(rest)]), True
    return kind, False


def is_list(kind: Any) -> bool:
    return typing.get_origin(without_optional(kind)[0]) in (list, typing.List)


def placeholder(kind: Any) -> str:
    """How `--help` shows a key's value."""
    inner, optional = without_optional(kind)
    if is_list(inner):
        shown = "[a,b,...]"
    else:
        shown = {bool: "true|false", int: "<int>", float: "<number>", str: "<text>"}.get(inner, f"<{inner}>")
    return f"{shown}|null" if optional else shown


# -- --help ---------------------------------------------------------------------------------------


def usage(command: Command) -> str:
    words = [f"python -m smarts_rl.{command.program}"]
    if command.multirun:
        words.append("[-m]")
    if command.positional:
        many = is_list(key_types(command.options)[command.positional])
        words.append(f"[<{command.positional}> ...]" if many else f"<{command.positional}>")
    words.append("[key=value ...]")
    return " ".join(words)


def help_text(command: Command) -> str:
    """The command's `--help`: usage, what it does, and every key with its default and docstring."""
    types_, defaults, docs = key_types(command.options), key_defaults(command.options), key_docs(command.options)
    lines = [f"usage: {usage(command)}", "", command.about.strip(), "", "Keys [default]:"]
    width = max(len(f"{key}={placeholder(kind)}") for key, kind in types_.items()) + 2
    for key, kind in types_.items():
        default = defaults.get(key)
        doc = docs.get(key, "")
        if default not in (None, "", []):
            doc = f"[{format_value(default)}] {doc}"
        text = textwrap.wrap(doc, 100 - width - 2) or [""]
        lines.append(f"  {f'{key}={placeholder(kind)}':<{width}}{text[0]}")
        lines += [f"  {'':<{width}}{line}" for line in text[1:]]
    notes = []
    if command.positional:
        notes.append(f"Arguments without `=` give {command.positional}.")
    if command.rest:
        notes.append(f"Every other key=value goes to {command.rest}.")
    if command.flags:
        notes.append("Each key may also be given as --key value (with - for _).")
    if command.multirun:
        notes.append("-m runs every combination of comma-separated values (Hydra's override grammar, e.g. "
                     "-m episodes=5,10 checkpoint=best,latest; quote a value that holds a comma); "
                     "every job is checked before the first starts.")
    return "\n".join(lines + [""] + [wrapped for note in notes for wrapped in textwrap.wrap(note, 100)])


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ",".join(map(format_value, value)) + "]"
    return str(value)


# -- reading a command line -----------------------------------------------------------------------


@dataclass
class Arguments:
    """A command line, sorted."""

    overrides: list[str]
    """The `key=value` arguments of the options' keys."""
    multirun: bool = False
    positional: list[str] = dataclasses.field(default_factory=list)
    rest: list[str] = dataclasses.field(default_factory=list)


def key_of(argument: str) -> str:
    return argument.split("=", 1)[0]


def read_arguments(command: Command, argv: list[str]) -> Arguments:
    """The command line sorted into the options' `key=value`s, positional arguments and the rest;
    unknown keys and flags refused."""
    args, i = Arguments([]), 0
    known = key_types(command.options)
    while i < len(argv):
        arg = argv[i]
        if arg in MULTIRUN_FLAGS and command.multirun:
            args.multirun = True
        elif command.rest and arg.startswith(("+", "~")):
            args.overrides.append(arg)  # a train.py override that adds or deletes a key: the rest's
        elif arg.startswith("--") and command.flags and len(arg) > 2:
            name, equals, value = arg[2:].partition("=")
            if not equals:
                if i + 1 >= len(argv):
                    raise UsageError(f"{arg} needs a value: {arg} <value> (or {name.replace('-', '_')}=<value>)")
                i, value = i + 1, argv[i + 1]
            args.overrides.append(f"{name.replace('-', '_')}={value}")
        elif arg.startswith("-"):
            raise UsageError(f"unknown option {arg!r}: arguments take the form key=value (--help lists every key)")
        elif "=" in arg and (KEY.fullmatch(key_of(arg)) or command.rest):
            args.overrides.append(arg)  # the rest's keys are Hydra's (`hydra/launcher=...`)
        elif command.positional:
            args.positional.append(arg)
        else:
            raise UsageError(f"arguments take the form key=value; got {arg!r}")
        i += 1
    if command.rewrite:
        args.overrides = command.rewrite(args.overrides, args.multirun)
    unknown = [o for o in args.overrides if key_of(o) not in known]
    if unknown and not command.rest:
        raise UsageError(f"unknown argument {key_of(unknown[0])!r} (expected one of: {', '.join(known)})")
    args.overrides, args.rest = [o for o in args.overrides if key_of(o) in known], unknown
    if command.positional and not is_list(known[command.positional]) and len(args.positional) > 1:
        raise UsageError(f"one {command.positional} please; got {' '.join(args.positional)}")
    return args


def jobs(command: Command, args: Arguments) -> list[tuple[str, Any]]:
    """Each job of the command line: (its overrides as one line, its options)."""
    extra = {}
    if command.positional and args.positional:
        many = is_list(key_types(command.options)[command.positional])
        extra[command.positional] = args.positional if many else args.positional[0]
    if command.rest:
        extra[command.rest] = args.rest
    if not args.multirun:
        swept = [o for o in args.overrides if not takes_text_as_written(command.options, key_of(o)) and is_sweep(o)]
        if swept:
            key, value = swept[0].split("=", 1)
            raise UsageError(f"{swept[0]} gives several values: add -m to run one job per value "
                             f"(or, for one value that holds a comma, quote it: {key}='{value}')")
        return [(" ".join(args.overrides), options_from(command.options, args.overrides, True, extra))]
    return [(" ".join(job), options_from(command.options, job, False, extra)) for job in sweep_jobs(args.overrides)]


def is_sweep(override: str) -> bool:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create().parse_override(override).is_sweep_override()


def sweep_jobs(overrides: list[str]) -> list[list[str]]:
    """Every combination of the swept values, as Hydra's basic sweeper lists (and runs) them, each
    job as its `key=value`s in Hydra's override grammar."""
    from hydra.errors import HydraException

    from smarts_rl.upstream.hydra import basic_sweep_jobs

    sweeps = " ".join(o for o in overrides if is_sweep(o))
    try:
        jobs = basic_sweep_jobs(overrides, None)  # no config groups: these keys are options, not groups
    except HydraException:
        jobs = []
    if not jobs:
        raise UsageError(f"{sweeps}: only a list of values (a,b) or range() sweeps here")
    return jobs


def takes_text_as_written(schema: type, key: str) -> bool:
    """A string or list key: a single run takes its value as written, not in Hydra's grammar."""
    inner, _ = without_optional(key_types(schema)[key])
    return inner is str or is_list(inner)


def options_from(schema: type, overrides: list[str], as_written: bool, extra: dict) -> Any:
    """The options object of one job. `as_written`: a single run, whose strings are taken as they are
    and lists read as YAML (so `~/folder` and `a,b` are what they look like); in a multirun every
    value is Hydra's grammar. `extra`: values already read (positional arguments, the rest)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    kinds = key_types(schema)
    cfg = OmegaConf.structured(schema)
    try:
        for override in overrides:
            key, value = override.split("=", 1)
            inner, optional = without_optional(kinds[key])
            if as_written and optional and value == "null":
                parsed = None
            elif as_written and inner is str:
                parsed = value
            elif as_written and is_list(inner):
                parsed = yaml_list(key, value)
            else:
                parsed = OverridesParser.create().parse_override(override).value()
            OmegaConf.update(cfg, key, parsed, merge=False)
        for key, value in extra.items():
            given = OmegaConf.select(cfg, key) if is_list(kinds[key]) else None
            OmegaConf.update(cfg, key, [*(given or []), *value] if is_list(kinds[key]) else value, merge=False)
        return OmegaConf.to_object(cfg)
    except UsageError:
        raise
    except Exception as exc:  # OmegaConf's validation, Hydra's grammar
        raise UsageError(one_line(exc)) from None


def yaml_list(key: str, value: str) -> list:
    try:
        parsed = OmegaConf.to_container(OmegaConf.from_dotlist([f"entries={value}"]))["entries"]
    except OmegaConfBaseException as exc:
        raise UsageError(f"{key}={value}: {one_line(exc)}") from None
    if not isinstance(parsed, list):
        raise UsageError(f"{key}={value}: expected a list, e.g. {key}=[a,b]")
    return [str(entry) for entry in parsed]


# -- the Python functions -------------------------------------------------------------------------


def typed_options(schema: type, options: Any = None, keys: Optional[dict] = None) -> Any:
    """A command's options from its Python function's arguments: an options object, keyword
    arguments (the command line's keys; a nested group as a dict or its dataclass), or both (the
    keywords replace the object's values). Checked as the command line is: UsageError, one line."""
    if options is not None and not isinstance(options, schema):
        raise UsageError(f"expected {schema.__module__}.{schema.__qualname__}, got {type(options).__module__}.{type(options).__qualname__}")
    keys = {name: plain(value) for name, value in (keys or {}).items()}
    known = key_types(schema)
    for key in dotted(keys):
        if key not in known:
            raise UsageError(f"unknown argument {key!r} (expected one of: {', '.join(known)})")
    try:
        cfg = OmegaConf.merge(OmegaConf.structured(options if options is not None else schema), keys)
        return OmegaConf.to_object(cfg)
    except Exception as exc:  # OmegaConf's validation
        raise UsageError(one_line(exc)) from None


def plain(value: Any) -> Any:
    """Paths as strings, dataclasses as dicts: what OmegaConf merges into the schema."""
    if isinstance(value, (PurePath, os.PathLike)):
        return os.fspath(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def dotted(keys: dict, prefix: str = "") -> list[str]:
    out = []
    for name, value in keys.items():
        out += dotted(value, f"{prefix}{name}.") if isinstance(value, dict) else [f"{prefix}{name}"]
    return out


class CommandModule(types.ModuleType):
    """A command's module that is also its Python function. `smarts_rl.evaluate(run=...)` and
    `python -m smarts_rl.evaluate run=...` name one thing, and importing the module (which Python
    then sets as the attribute `smarts_rl.evaluate`) must not hide the function."""

    def __call__(self, *args, **keys):
        return self.__wrapped__(*args, **keys)


def callable_module(function: Callable) -> None:
    """Makes `function`'s module call it; `inspect.signature` of the module shows the function's."""
    module = sys.modules[function.__module__]
    module.__wrapped__ = function
    module.__class__ = CommandModule


# -- running ----------------------------------------------------------------------------------------


def error(command: Command, exc: BaseException) -> int:
    message = str(exc) if isinstance(exc, UsageError) else one_line(exc)
    print(f"{command.program}: error: {message}", file=sys.stderr)
    return USAGE_EXIT_CODE


def main(command: Command, argv: Optional[list[str]] = None) -> int:
    """The command line `argv`: every job read and checked, then each run and shown; the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if HELP_FLAGS & set(argv):
        print(help_text(command))
        return 0
    try:
        args = read_arguments(command, argv)
        listed = jobs(command, args)
        checked = [command.check(options) for _, options in listed]
        if len(checked) > 1 and command.check_jobs:
            command.check_jobs(checked)
    except Exception as exc:  # our checks, Hydra's grammar, OmegaConf's validation
        return error(command, exc)

    from smarts_rl.scenarios.build import ScenarioError

    code = 0
    for number, ((line, _), job) in enumerate(zip(listed, checked)):
        if args.multirun:
            print(f"[{command.program} #{number}] {line}", flush=True)
        try:
            command.show(command.run(job))
        except KeyboardInterrupt:
            print(f"{command.program}: interrupted", file=sys.stderr)
            return 130
        except (UsageError, ScenarioError) as exc:  # found only once the job runs (e.g. a checkpoint's spaces)
            code = error(command, exc)
        except Exception as exc:
            if not command.failures_are_one_line:
                raise
            code = error(command, exc)
    return code
