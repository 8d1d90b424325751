"""Checkpoints: a model's parameters and its optimizer's state in one ``.npz`` file.

:func:`save` writes atomically: the arrays go to a temporary file in the same folder,
which is flushed to disk and then renamed over the target (``os.replace``), so a
crash in the middle of a write leaves the previous checkpoint intact and never a
half-written one. The temporary files of earlier saves that were killed before their
rename (``.<name>.*.tmp`` beside the target) are removed by the next save.
:func:`load` reads with ``allow_pickle=False``: a checkpoint holds arrays only, never
code. Keys in the file::

    param/<layer>.<name>   the parameters (``model.named_parameters()``)
    buffer/<layer>.<name>  the state that is not trained (``model.named_buffers()``:
                           BatchNorm's running statistics)
    rng/<layer>.<attr>     the state of every numpy Generator the layers hold (Dropout's
                           masks, stochastic rounding), as JSON text
    optim/<key>            ``optimizer.state_dict()``: kind, t, lr, hyper-parameters,
                           its generators, state
    history/<record>       the training History, if given
    meta/epoch, meta/format, meta/seed (the seed of the run, if given)

:func:`load` checks the whole file against the model and optimizer (format, keys,
shapes, dtypes, optimizer kind, generator states) before it changes anything, then
loads the parameters with the model's own ``load_state_dict`` and the optimizer's
state with the optimizer's. It returns plain data (the epoch, the seed, the history
as arrays), from which :func:`dlkit.train.fit` rebuilds its History. Restoring
parameters, generator states, optimizer state and the epoch (from which
:func:`dlkit.train.fit` derives the shuffling order) makes a resumed run
bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from dlkit.nn.core import Layer

__all__ = [
    "save",
    "load",
    "read_meta",
    "resolve",
    "FORMAT",
    "generator_state",
    "read_generator_state",
    "generators_of",
]

#: 1: parameters, optimizer state, history; 2: also generator states and the seed
FORMAT = 2

_SECTIONS = ("param/", "buffer/", "rng/", "optim/", "history/", "meta/")


def resolve(path: str | os.PathLike) -> Path:
    """The file a checkpoint `path` names: ``.npz`` is appended if missing.

    Raises ``ValueError`` if `path` is an existing folder (a checkpoint is a file).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"checkpoint path must be a str or os.PathLike, got "
            f"{type(path).__name__}; pass e.g. 'runs/mlp.npz'"
        )
    path = Path(path)
    for p in (path, path.with_name(path.name + ".npz")):
        if p.is_dir():
            raise ValueError(
                f"checkpoint path {p} is a folder; pass a file name inside it, "
                f"e.g. {p / 'checkpoint.npz'}"
            )
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


# -- generator states ------------------------------------------------------------------


def _jsonable(obj):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.integer):
        return int(obj)
    raise TypeError(f"cannot store {type(obj).__name__} in a generator state")


def generator_state(gen: np.random.Generator) -> np.ndarray:
    """``gen.bit_generator.state`` as JSON text in a 0-d numpy string array.

    Python's ints hold PCG64's 128-bit state exactly, and a string array loads with
    ``allow_pickle=False``.
    """
    return np.array(json.dumps(gen.bit_generator.state, default=_jsonable))


def read_generator_state(a, like: np.random.Generator, who: str = "generator state") -> dict:
    """Parse what :func:`generator_state` wrote, checked to fit the Generator `like`.

    The state is tried on a fresh bit generator of `like`'s kind, so a malformed one
    raises ``ValueError`` (naming `who`) without touching `like`.
    """
    a = np.asarray(a)
    try:
        state = json.loads(str(a[()])) if a.ndim == 0 and a.dtype.kind == "U" else None
    except json.JSONDecodeError:
        state = None
    kind = type(like.bit_generator).__name__
    if not isinstance(state, dict) or state.get("bit_generator") != kind:
        got = state.get("bit_generator") if isinstance(state, dict) else "not a generator state"
        raise ValueError(
            f"{who}: expected the JSON state of a {kind} bit generator, got "
            f"{got!r}; was it saved by dlkit.checkpoint from the same model?"
        )
    try:
        type(like.bit_generator)().state = state
    except (TypeError, ValueError, KeyError) as exc:
        raise ValueError(f"{who}: invalid {kind} state ({exc})") from None
    return state


def _is_layer(obj) -> bool:
    return not isinstance(obj, type) and hasattr(obj, "forward") and hasattr(obj, "backward")


def generators_of(model, prefix: str = "") -> dict[str, np.random.Generator]:
    """Every numpy Generator held by `model` or its sub-layers, keyed by path.

    Walks attributes duck-typed: a Sequential's ``layers`` give ``"<i>."`` (as in
    ``named_parameters``), another sub-layer ``"<attr>."``, a list of sub-layers
    ``"<attr>.<i>."``; the key ends with the Generator's attribute name
    (``"2._rng"`` for the Dropout at index 2).
    """
    out: dict[str, np.random.Generator] = {}
    seen: set[int] = set()

    def walk(obj, pre: str) -> None:
        if id(obj) in seen or not hasattr(obj, "__dict__"):
            return
        seen.add(id(obj))
        for name, v in vars(obj).items():
            if isinstance(v, np.random.Generator):
                out[pre + name] = v
            elif _is_layer(v):
                walk(v, f"{pre}{name}.")
            elif isinstance(v, (list, tuple)):
                for i, item in enumerate(v):
                    if _is_layer(item):
                        walk(item, f"{pre}{i}." if name == "layers" else f"{pre}{name}.{i}.")

    walk(model, prefix)
    return out


# -- save --------------------------------------------------------------------------------


def _named_parameters(model) -> dict:
    if not hasattr(model, "named_parameters"):
        raise TypeError(f"checkpoint needs a dlkit Layer or Sequential, got {type(model).__name__}")
    return dict(model.named_parameters())


def _check_save_args(model, optimizer, epoch, history, seed) -> None:
    _named_parameters(model)
    if optimizer is not None and not hasattr(optimizer, "state_dict"):
        raise TypeError(
            f"checkpoint.save: optimizer must have state_dict() (a dlkit "
            f"optimizer), got {type(optimizer).__name__}"
        )
    for name, v in (("epoch", epoch), ("seed", seed)):
        if v is None and name == "seed":
            continue
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise TypeError(
                f"checkpoint.save: {name} must be an int >= 0, got {v!r} ({type(v).__name__})"
            )
        if v < 0:
            raise ValueError(f"checkpoint.save: {name} must be an int >= 0, got {name}={v}")
    if history is not None and not hasattr(history, "as_arrays"):
        raise TypeError(
            f"checkpoint.save: history must be a dlkit.train.History, got {type(history).__name__}"
        )


def _remove_stale_temporaries(path: Path, before: float) -> None:
    """Delete this target's temporary files (``.<name>.*.tmp``) last written before `before`.

    They are left by saves that were killed between creating and renaming them; a save
    still writing has touched its file after `before`, so it is kept.
    """
    folder = path.parent
    for tmp in folder.glob(f".{path.name}.*.tmp"):
        try:
            if tmp.stat().st_mtime < before:
                tmp.unlink()
        except OSError:  # removed meanwhile by another save, or not ours to remove
            pass


def save(
    path: str | os.PathLike,
    model,
    optimizer=None,
    *,
    epoch: int = 0,
    history=None,
    seed: int | None = None,
) -> Path:
    """Write `model`'s parameters (and `optimizer`'s state, `epoch`, `history`) to `path`.

    The state of every numpy Generator the layers hold is saved too. The file is
    replaced atomically; returns its Path. ``.npz`` is appended if missing. `history`
    is anything with ``as_arrays()`` (a :class:`dlkit.train.History`); `seed` is the
    seed of the run (:func:`dlkit.train.fit` stores it so a resume can check it).
    """
    start = time.time()
    _check_save_args(model, optimizer, epoch, history, seed)
    path = resolve(path)
    arrays: dict[str, np.ndarray] = {
        "meta/format": np.array(FORMAT),
        "meta/epoch": np.array(int(epoch)),
    }
    if seed is not None:
        arrays["meta/seed"] = np.array(int(seed))
    for name, p in _named_parameters(model).items():
        arrays[f"param/{name}"] = p.data
    for name, a in getattr(model, "named_buffers", lambda: [])():
        arrays[f"buffer/{name}"] = a
    for name, gen in generators_of(model).items():
        arrays[f"rng/{name}"] = generator_state(gen)
    if optimizer is not None:
        for k, v in optimizer.state_dict().items():
            arrays[f"optim/{k}"] = v
    if history is not None:
        for k, v in history.as_arrays().items():
            arrays[f"history/{k}"] = v
    folder = path.parent if str(path.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path, start)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


# -- load --------------------------------------------------------------------------------


def _read(path: Path) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` file at `path`; ``ValueError`` if it is not one."""
    import zipfile

    try:
        f = np.load(path, allow_pickle=False)
    except ValueError as exc:  # a pickle, or not numpy data at all
        raise ValueError(f"{path} is not a dlkit checkpoint ({exc})") from None
    except (zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(
            f"{path} is not a readable .npz file ({exc}); it may be truncated: "
            "save the checkpoint again"
        ) from None
    if not isinstance(f, np.lib.npyio.NpzFile):
        raise ValueError(
            f"{path} is not a dlkit checkpoint (it holds a single array, not "
            "the named arrays of an .npz file)"
        )
    try:
        with f:
            return {k: f[k] for k in f.files}
    except ValueError as exc:  # an object array: refused, never unpickled
        raise ValueError(
            f"{path} holds Python objects, which a checkpoint never does ({exc})"
        ) from None
    except (zipfile.BadZipFile, EOFError, KeyError, OSError) as exc:
        raise ValueError(
            f"{path} is not a readable .npz file ({exc}); it may be truncated: "
            "save the checkpoint again"
        ) from None


def _int_meta(data: dict, key: str, path: Path) -> int:
    v = data[key]
    if v.ndim != 0 or v.dtype.kind not in "iu" or int(v) < 0:
        raise ValueError(f"checkpoint {path}: {key} must be an int >= 0, got {v!r}")
    return int(v)


def _check_params(data: dict, model, path: Path) -> dict[str, np.ndarray]:
    """The parameters and buffers of the file, checked against `model`'s."""
    params = {k.split("/", 1)[1]: v for k, v in data.items() if k.startswith(("param/", "buffer/"))}
    Layer.check_state(model, params, f"checkpoint {path}", dtypes=True)
    return params


def _check_generators(data: dict, model, fmt: int, path: Path) -> dict:
    saved = {k[len("rng/") :]: v for k, v in data.items() if k.startswith("rng/")}
    mine = generators_of(model)
    if fmt < 2 and not saved:
        return {}  # written before generator states were saved
    missing, extra = set(mine) - set(saved), set(saved) - set(mine)
    if missing or extra:
        raise KeyError(
            f"checkpoint {path}: the network's random generators do not match: "
            f"missing {sorted(missing)}, unexpected {sorted(extra)}; was it saved "
            "from the same architecture (Dropout, Quantize layers)?"
        )
    return {
        k: read_generator_state(saved[k], g, f"checkpoint {path}, rng/{k}") for k, g in mine.items()
    }


def _check_optimizer(data: dict, optimizer, path: Path) -> dict | None:
    if optimizer is None:
        return None
    if not hasattr(optimizer, "load_state_dict"):
        raise TypeError(
            f"checkpoint.load: optimizer must have load_state_dict() (a dlkit "
            f"optimizer), got {type(optimizer).__name__}"
        )
    state = {k[len("optim/") :]: v for k, v in data.items() if k.startswith("optim/")}
    if not state:
        raise KeyError(f"checkpoint {path} holds no optimizer state; load without optimizer")
    kind, mine = state.get("kind"), type(optimizer).__name__
    if kind is not None and str(kind) != mine:
        raise ValueError(
            f"checkpoint {path} was saved with optimizer {kind}, this one is "
            f"{mine}: build {kind}(model.parameters(), ...) to resume it, or load "
            "the model alone (optimizer=None)"
        )
    return state


def _existing(path) -> Path:
    target = resolve(path)
    path = Path(path) if Path(path).is_file() else target
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}: save one with dlkit.checkpoint.save")
    return path


def read_meta(path: str | os.PathLike) -> dict:
    """``{"format", "epoch", "seed"}`` of the checkpoint at `path`, without loading it."""
    path = _existing(path)
    data = _read(path)
    if "meta/format" not in data:
        raise ValueError(f"{path} is not a dlkit checkpoint (no meta/format entry)")
    return {
        "format": _int_meta(data, "meta/format", path),
        "epoch": _int_meta(data, "meta/epoch", path) if "meta/epoch" in data else 0,
        "seed": _int_meta(data, "meta/seed", path) if "meta/seed" in data else None,
    }


def _check_history(data: dict, path: Path) -> dict[str, np.ndarray] | None:
    """The ``history/<record>`` arrays, each 1-D and numeric; None if there are none."""
    hist = {k[len("history/") :]: v for k, v in data.items() if k.startswith("history/")}
    for k, v in hist.items():
        if v.ndim != 1 or v.dtype.kind not in "iuf":
            raise ValueError(f"checkpoint {path}: history/{k} must be a 1-D array of numbers")
    return hist or None


def _load_parameters(model, params: dict[str, np.ndarray]) -> None:
    """Copy the checked `params` into `model` with the model's own ``load_state_dict``
    (every dlkit Layer has one; a duck-typed model is loaded by Layer's, which reads
    nothing but ``named_parameters()``)."""
    load_state_dict = getattr(model, "load_state_dict", None)
    if load_state_dict is None:
        Layer.load_state_dict(model, params)
    else:
        load_state_dict(params)


def load(path: str | os.PathLike, model, optimizer=None) -> dict:
    """Load a checkpoint into `model` (and `optimizer`) in place.

    The whole file is checked first (format, keys, parameter shapes and dtypes,
    generator states, the optimizer's kind and state): if anything does not fit, a
    ``KeyError`` or ``ValueError`` names it and neither `model` nor `optimizer` has
    changed. Then the optimizer's ``load_state_dict``, the model's
    ``load_state_dict`` and the generator states are applied.

    Returns
    -------
    dict
        ``{"epoch": int, "seed": int or None, "history": dict or None}``; the history is
        a dict of 1-D arrays of numbers, one per record, as ``History.as_arrays()``
        wrote them (``dlkit.train.History.from_arrays`` rebuilds the History).
    """
    path = _existing(path)
    _named_parameters(model)  # a model with parameters, or a clear TypeError
    data = _read(path)
    if "meta/format" not in data:
        raise ValueError(f"{path} is not a dlkit checkpoint (no meta/format entry)")
    fmt = _int_meta(data, "meta/format", path)
    if fmt > FORMAT:
        raise ValueError(
            f"checkpoint {path} has format {fmt}, newer than this dlkit's "
            f"({FORMAT}): upgrade dlkit to read it"
        )
    strange = sorted(k for k in data if not k.startswith(_SECTIONS))
    if strange:
        raise ValueError(f"checkpoint {path} has unexpected entries {strange}")
    epoch = _int_meta(data, "meta/epoch", path) if "meta/epoch" in data else 0
    seed = _int_meta(data, "meta/seed", path) if "meta/seed" in data else None
    params = _check_params(data, model, path)
    gens = _check_generators(data, model, fmt, path)
    state = _check_optimizer(data, optimizer, path)
    hist = _check_history(data, path)
    if state is not None:
        optimizer.load_state_dict(state)  # validates everything before it changes anything
    _load_parameters(model, params)
    generators = generators_of(model)
    for k, s in gens.items():
        generators[k].bit_generator.state = s
    return {"epoch": epoch, "seed": seed, "history": hist}
