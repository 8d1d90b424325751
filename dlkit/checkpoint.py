"""Checkpoints: a model's parameters and its optimizer's state in one ``.npz`` file.

:func:`save` writes atomically: the arrays go to a temporary file in the same folder,
which is flushed to disk and then renamed over the target (``os.replace``), so a
crash in the middle of a write leaves the previous checkpoint intact and never a
half-written one. :func:`load` reads with ``allow_pickle=False``: a checkpoint holds
arrays only, never code. Keys in the file:

    param/<layer>.<name>   the parameters (``model.named_parameters()``)
    optim/<key>            ``optimizer.state_dict()``: t, lr, hyper-parameters, state
    history/<record>       the training History, if given
    meta/epoch, meta/format

Restoring parameters, optimizer state and the epoch (from which :func:`dlkit.train.fit`
derives the shuffling seed) makes a resumed run bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["save", "load", "FORMAT"]

FORMAT = 1


def _named_parameters(model) -> dict:
    if not hasattr(model, "named_parameters"):
        raise TypeError(f"checkpoint needs a dlkit Layer or Sequential, got {type(model).__name__}")
    return dict(model.named_parameters())


def save(path: str | os.PathLike, model, optimizer=None, *, epoch: int = 0,
         history=None) -> Path:
    """Write `model`'s parameters (and `optimizer`'s state, `epoch`, `history`) to `path`.

    The file is replaced atomically; returns its Path. ``.npz`` is appended if missing.
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    arrays: dict[str, np.ndarray] = {"meta/format": np.array(FORMAT),
                                     "meta/epoch": np.array(int(epoch))}
    for name, p in _named_parameters(model).items():
        arrays[f"param/{name}"] = p.data
    if optimizer is not None:
        for k, v in optimizer.state_dict().items():
            arrays[f"optim/{k}"] = v
    if history is not None:
        for k, v in history.as_arrays().items():
            arrays[f"history/{k}"] = v
    folder = path.parent if str(path.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
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


def load(path: str | os.PathLike, model, optimizer=None) -> dict:
    """Load a checkpoint into `model` (and `optimizer`) in place.

    Returns ``{"epoch": int, "history": History or None}``. Raises a ``KeyError`` or
    ``ValueError`` that names the mismatching parameter when the file does not fit
    the model.
    """
    from dlkit.train import History

    path = Path(path)
    if not path.exists() and path.with_name(path.name + ".npz").exists():
        path = path.with_name(path.name + ".npz")
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}: save one with dlkit.checkpoint.save")
    with np.load(path, allow_pickle=False) as f:
        data = {k: f[k] for k in f.files}
    if "meta/format" not in data:
        raise ValueError(f"{path} is not a dlkit checkpoint (no meta/format entry)")
    params = {k[len("param/"):]: v for k, v in data.items() if k.startswith("param/")}
    mine = _named_parameters(model)
    missing, extra = set(mine) - set(params), set(params) - set(mine)
    if missing or extra:
        raise KeyError(f"checkpoint {path} does not match this network: missing "
                       f"{sorted(missing)}, unexpected {sorted(extra)}")
    for k, p in mine.items():
        if params[k].shape != p.data.shape:
            raise ValueError(f"parameter {k}: saved shape {params[k].shape} != "
                             f"network's {p.data.shape}")
    for k, p in mine.items():
        p.data[...] = params[k]
    if optimizer is not None:
        state = {k[len("optim/"):]: v for k, v in data.items() if k.startswith("optim/")}
        if not state:
            raise KeyError(f"checkpoint {path} holds no optimizer state; load without optimizer")
        optimizer.load_state_dict(state)
    hist = {k[len("history/"):]: v for k, v in data.items() if k.startswith("history/")}
    return {"epoch": int(data["meta/epoch"]),
            "history": History.from_arrays(hist) if hist else None}
