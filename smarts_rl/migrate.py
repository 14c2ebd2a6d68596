"""`python -m smarts_rl.migrate run=<dir>`: rewrite a run directory's pickles to the promised names.

A run directory's pickles (its Tune experiment, its RLlib checkpoints) name our classes and
functions by module and name. Since smarts_rl/persisted.py they name only `smarts_rl.persisted.*`;
a run made before names them where they lived then, in today's modules or in the flat modules
of before December 2026. This module is the one place that knows those older names. It rewrites
each of them to its promised name once per run directory, when the run is resumed, evaluated
or warm-started from (or by this command), and records that it did in the directory's
`pickles_migrated.json`.

The pickles are rewritten opcode by opcode, never loaded: each global a pickle imports
(GLOBAL, STACK_GLOBAL) that has a promised name is replaced by it, each string that names a
module of before December by that module's name of today, and the frames are rebuilt.
Pickles embedded in Tune's experiment state (hex in JSON) are rewritten the same way. Every
file is replaced atomically; a file is rewritten only if one of its names changes.
"""

from __future__ import annotations

import io
import json
import pickletools
import struct
import sys
from pathlib import Path

from smarts_rl.errors import UsageError
from smarts_rl.run_dir.atomic_file import write_atomically
from smarts_rl.run_dir.layout import EXPERIMENT_DIR, PICKLES_MIGRATED, holds_config

PERSISTED = "smarts_rl.persisted"

# Modules of before the package was laid out as the pipeline (December 2026) -> their names of today.
OLD_MODULES = {
    f"smarts_rl.{old}": f"smarts_rl.{new}"
    for old, new in {
        "scenario_set": "scenarios.sets",
        "driving_metrics": "env.driving_metrics",
        "simulator_time": "env.simulator_time",
        "throughput": "bench_harness.throughput",
        "training": "run.job",
        "workarounds": "upstream.smarts",
        "rllib_setup": "run.rllib_setup",
        "fault_tolerance": "run.fault_tolerance",
        "resume": "run.resume",
        "resumed_settings": "run.resumed_settings",
        "warm_start": "run.warm_start",
        "cluster": "run.cluster",
        "console": "run.console",
        "stopping": "run.stopping",
        "sweep": "run.sweep",
        "summary": "run_dir.summary",
        "curves": "run_dir.curves",
        "trial_results": "run_dir.trial_results",
        "trained_run": "run_dir.trained_run",
        "atomic_file": "run_dir.atomic_file",
        "episodes": "evaluation.episodes",
        "policies": "evaluation.policies",
        "rollout_gif": "evaluation.rollout_gif",
        "seed_statistics": "evaluation.seed_statistics",
        "algorithms.lr_from_config": "upstream.rllib",
        "env.observation": "agents.observation",
        "policy_network": "agents.policy_network",
    }.items()
}

# (module, name) a run made before smarts_rl/persisted.py pickled -> the promised name. The
# modules are today's or older ones (`algorithms.pg`, `algorithms.ppo`, `schedulers.pbt` once
# held what moved to the modules beside them); OLD_MODULES maps the flat ones onto these.
PROMISED = {
    ("smarts_rl.run.job", "trial_dirname"): "trial_dirname",
    ("smarts_rl.run.stopping", "RunStopper"): "RunStopper",
    ("smarts_rl.run.console", "TrialLines"): "TrialLines",
    ("smarts_rl.run.resumed_settings", "RunSettings"): "RunSettings",
    ("smarts_rl.run.warm_start", "load_modules_into"): "warm_start_modules",
    ("smarts_rl.run.fault_tolerance", "MultiAgentRunner"): "MultiAgentRunner",
    ("smarts_rl.run.fault_tolerance", "SingleAgentRunner"): "SingleAgentRunner",
    ("smarts_rl.run.rllib_setup", "shared_policy"): "shared_policy",
    ("smarts_rl.run.rllib_setup", "own_policy"): "own_policy",
    ("smarts_rl.env.driving_metrics", "DrivingMetrics"): "DrivingMetrics",
    ("smarts_rl.env.simulator_time", "SimulatorTime"): "SimulatorTime",
    ("smarts_rl.algorithms.pg_algorithm", "PG"): "PG",
    ("smarts_rl.algorithms.pg_algorithm", "PGConfig"): "PGConfig",
    ("smarts_rl.algorithms.pg", "PG"): "PG",
    ("smarts_rl.algorithms.pg", "PGConfig"): "PGConfig",
    ("smarts_rl.algorithms.pg_learner", "PGTorchLearner"): "PGLearner",
    ("smarts_rl.algorithms.actor_critic_module", "ActorCriticModule"): "ActorCriticModule",
    ("smarts_rl.algorithms.ppo_algorithm", "PPO"): "PPO",
    ("smarts_rl.algorithms.ppo_algorithm", "LrFromConfigPPOLearner"): "PPOLearner",
    ("smarts_rl.algorithms.ppo", "PPO"): "PPO",
    ("smarts_rl.algorithms.ppo", "LrFromConfigPPOLearner"): "PPOLearner",
    ("smarts_rl.schedulers.recorded_pbt", "RecordedPBT"): "RecordedPBT",
    ("smarts_rl.schedulers.pbt", "RecordedPBT"): "RecordedPBT",
}
VERSION = 1  # of the names above; a run directory migrated with an older version is migrated again
OUR_NAMES = b"smarts_rl"  # a pickle without it names nothing of ours: left as it is
FRAME_SIZE = 64 * 1024  # as Python's pickler frames


def promised_name(module: str, qualname: str) -> tuple[str, str] | None:
    """The (module, qualname) a pickled global is rewritten to, or None to leave it. A method
    (`PG.training_step`, as Ray's wrappers of the trial actor's methods pickle them) follows its class."""
    today = OLD_MODULES.get(module, module)
    head, dot, rest = qualname.partition(".")
    if (today, head) in PROMISED:
        return PERSISTED, PROMISED[today, head] + dot + rest
    return (today, qualname) if today != module else None


# -- one pickle ----------------------------------------------------------------------------

_STRINGS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"}
_MEMO_GETS = {"GET", "BINGET", "LONG_BINGET"}
_MEMO_PUTS = {"PUT", "BINPUT", "LONG_BINPUT"}


def rewrite_pickle(data: bytes, rename=promised_name, modules: dict = OLD_MODULES) -> bytes:
    """`data` (one pickle or several in a row) with our old names replaced; the same bytes when none is.
    `rename(module, qualname)`: a global's new (module, qualname) or None; `modules`: module name
    strings to replace wherever they appear (as a by-value class's `__module__`)."""
    if OUR_NAMES not in data:
        return data
    out, pos = bytearray(), 0
    while pos < len(data):
        rewritten, pos = _rewrite_one(data, pos, rename, modules)
        out += rewritten
    return bytes(out) if out != data else data


def _rewrite_one(data: bytes, start: int, rename, modules: dict) -> tuple[bytes, int]:
    stream = io.BytesIO(data)
    stream.seek(start)
    ops = list(pickletools.genops(stream))
    end = stream.tell()
    bounds = [pos for _, _, pos in ops] + [end]
    protocol, framed = 0, False
    memo: dict[int, object] = {}
    pushed: list[object] = []  # what the last ops pushed, for STACK_GLOBAL's two operands
    pieces: list[bytes] = []
    for i, (op, arg, pos) in enumerate(ops):
        raw = data[pos:bounds[i + 1]]
        name = op.name
        if name == "PROTO":
            protocol = arg
        if name == "FRAME":
            framed = True
            continue
        if name in _STRINGS:
            pushed.append(arg)
            if arg in modules:
                raw = _string(modules[arg], protocol)
        elif name in _MEMO_GETS:
            pushed.append(memo.get(arg))
        elif name == "MEMOIZE":
            memo[len(memo)] = pushed[-1] if pushed else None
        elif name in _MEMO_PUTS:
            memo[arg] = pushed[-1] if pushed else None
        elif name in ("GLOBAL", "INST"):
            module, qualname = arg.split(" ", 1)
            new = rename(module, qualname)
            if new:
                raw = op.code.encode("latin-1") + f"{new[0]}\n{new[1]}\n".encode("utf-8")
            pushed.append(None)
        elif name == "STACK_GLOBAL":
            module, qualname = (pushed[-2], pushed[-1]) if len(pushed) >= 2 else (None, None)
            new = rename(module, qualname) if isinstance(module, str) and isinstance(qualname, str) else None
            if new:
                # Drop the two names it would take and push the promised ones (the memo keeps the old
                # strings where other opcodes may fetch them).
                raw = b"00" + _string(new[0], protocol) + _string(new[1], protocol) + raw
            pushed.append(None)
        else:
            pushed.append(None)
        pieces.append(raw)
    return (_framed(pieces) if framed else b"".join(pieces)), end


def _string(text: str, protocol: int) -> bytes:
    encoded = text.encode("utf-8")
    if protocol >= 4 and len(encoded) < 256:
        return b"\x8c" + bytes([len(encoded)]) + encoded  # SHORT_BINUNICODE
    return b"X" + struct.pack("<I", len(encoded)) + encoded  # BINUNICODE


def _framed(pieces: list[bytes]) -> bytes:
    """Protocol 4+ framing as Python's pickler does it: PROTO, then frames of about 64 KiB cut
    between opcodes; an opcode larger than a frame goes outside any frame."""
    out, frame = bytearray(pieces[0]), bytearray()

    def commit():
        if frame:
            out.extend(b"\x95" + struct.pack("<Q", len(frame)) + frame)
            frame.clear()

    for piece in pieces[1:]:
        if len(piece) >= FRAME_SIZE:
            commit()
            out.extend(piece)
            continue
        frame.extend(piece)
        if len(frame) >= FRAME_SIZE:
            commit()
    commit()
    return bytes(out)


def pickled_globals(data: bytes) -> set[tuple[str, str]]:
    """(module, qualname) of every global the pickle(s) in `data` import, as unpickling would."""
    found, stream = set(), io.BytesIO(data)
    while stream.tell() < len(data):
        memo, pushed = {}, []
        for op, arg, _ in pickletools.genops(stream):
            if op.name in _STRINGS:
                pushed.append(arg)
            elif op.name in _MEMO_GETS:
                pushed.append(memo.get(arg))
            elif op.name == "MEMOIZE":
                memo[len(memo)] = pushed[-1] if pushed else None
            elif op.name in _MEMO_PUTS:
                memo[arg] = pushed[-1] if pushed else None
            elif op.name in ("GLOBAL", "INST"):
                found.add(tuple(arg.split(" ", 1)))
            elif op.name == "STACK_GLOBAL":
                found.add((pushed[-2], pushed[-1]))
            if op.name not in ("MEMOIZE", "FRAME", *_STRINGS, *_MEMO_GETS, *_MEMO_PUTS):
                pushed.append(None)
    return found


# -- Tune's experiment state: JSON with pickles inside -------------------------------------


def rewrite_json(value, rename=promised_name, modules: dict = OLD_MODULES):
    """A JSON value with the pickles Tune embeds (`{"_type": "CLOUDPICKLE_FALLBACK", "value": <hex>}`,
    also inside strings that are JSON themselves) rewritten as `rewrite_pickle` does."""
    if isinstance(value, dict):
        if value.get("_type") == "CLOUDPICKLE_FALLBACK" and isinstance(value.get("value"), str):
            data = bytes.fromhex(value["value"])
            new = rewrite_pickle(data, rename, modules)
            return value if new is data else {**value, "value": new.hex()}
        return {k: rewrite_json(v, rename, modules) for k, v in value.items()}
    if isinstance(value, list):
        return [rewrite_json(v, rename, modules) for v in value]
    if isinstance(value, str) and value[:1] in "{[" and "CLOUDPICKLE_FALLBACK" in value:
        try:
            inner = json.loads(value)
        except ValueError:
            return value
        new = rewrite_json(inner, rename, modules)
        return value if new == inner else json.dumps(new)
    return value


# -- a run directory -----------------------------------------------------------------------


def rewritten_content(path: Path, rename=promised_name, modules: dict = OLD_MODULES) -> bytes | None:
    """The file's new content, or None when it names nothing to rewrite (see `rewrite_pickle`)."""
    data = path.read_bytes()
    if OUR_NAMES not in data and b"CLOUDPICKLE_FALLBACK" not in data:
        return None
    if data[:1] == b"\x80":  # a pickle of protocol 2+ (Tune's searcher state too, despite its .json)
        new = rewrite_pickle(data, rename, modules)
        return None if new is data else new
    if path.name.startswith("experiment_state"):
        state = json.loads(data)
        new_state = rewrite_json(state, rename, modules)
        return None if new_state == state else json.dumps(new_state).encode()
    return None


def embedded_pickles(path: Path) -> list[bytes]:
    """The pickles a file of a run directory holds: itself, or those inside Tune's experiment state."""
    data = path.read_bytes()
    if data[:1] == b"\x80":
        return [data]
    if not path.name.startswith("experiment_state"):
        return []
    found = []

    def walk(value):
        if isinstance(value, dict):
            if value.get("_type") == "CLOUDPICKLE_FALLBACK":
                found.append(bytes.fromhex(value["value"]))
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, str) and value[:1] in "{[" and "CLOUDPICKLE_FALLBACK" in value:
            walk(json.loads(value))

    walk(json.loads(data))
    return found


def migrate(directory: Path) -> list[Path]:
    """Rewrite every pickle under `directory` (a run directory, or a checkpoint directory of its own)
    that names ours by an older name, unless done already; the files rewritten."""
    directory = Path(directory)
    record = directory / PICKLES_MIGRATED
    if _migrated_version(record) >= VERSION:
        return []
    root = directory / EXPERIMENT_DIR if holds_config(directory) else directory
    changes = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        new = rewritten_content(path)
        if new is not None:
            changes[path] = new
    try:
        for path, new in changes.items():
            write_atomically(path, new)
        write_atomically(record, json.dumps({
            "version": VERSION,
            "names": PERSISTED,
            "rewritten": [str(p.relative_to(directory)) for p in changes],
        }, indent=2).encode() + b"\n")
    except OSError as exc:
        if changes:  # it cannot load as it is
            raise UsageError(
                f"{directory}: its pickles name classes by modules of an older smarts-rl and must be rewritten "
                f"once, which failed ({exc.strerror or exc}); run `python -m smarts_rl.migrate run={directory}` "
                "where it is writable, or on a copy"
            ) from exc
        # Nothing to rewrite: a read-only run directory of today's names loads as it is.
    return list(changes)


def migrate_run_of(checkpoint: Path) -> list[Path]:
    """`migrate` the run directory holding `checkpoint`, or the checkpoint directory alone."""
    checkpoint = Path(checkpoint).resolve()
    run_dir = next((d for d in checkpoint.parents if holds_config(d)), checkpoint)
    return migrate(run_dir)


def _migrated_version(record: Path) -> int:
    try:
        return int(json.loads(record.read_text())["version"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0].startswith("run=") or args[0] in ("-h", "--help"):
        print("usage: python -m smarts_rl.migrate run=<run dir | checkpoint dir>", file=sys.stderr)
        return 0 if args[:1] in (["-h"], ["--help"]) else 2
    directory = Path(args[0].split("=", 1)[1]).expanduser().resolve()
    if not directory.is_dir():
        print(f"run={args[0].split('=', 1)[1]}: no such directory ({directory})", file=sys.stderr)
        return 2
    try:
        rewritten = migrate(directory)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"{directory}: {len(rewritten)} file(s) rewritten to the names of smarts_rl/persisted.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
