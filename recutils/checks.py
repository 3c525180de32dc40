"""Argument checks shared by the whole package: one function per kind of value.

Every check returns the value in its canonical Python type (``int``, ``float``, ``bool``) or
raises :class:`ValueError` with a message that names the argument, says what it means and what
would be valid, and shows what was given::

    >>> positive_int(0, "epochs", "passes over the training pairs")
    Traceback (most recent call last):
    ...
    ValueError: epochs must be a positive integer (passes over the training pairs), got 0

``bool`` is never accepted as a number (``True`` is an ``int`` in Python, but ``epochs=True``
is a mistake), and NumPy scalars are accepted wherever Python numbers are.

A warning points at the reader's own line, not at the recutils line that warns
(:func:`stacklevel_outside_recutils`).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse


def stacklevel_outside_recutils() -> int:
    """The ``stacklevel`` that makes ``warnings.warn``, called by the function that calls this
    one, name the first caller outside recutils (and outside ``contextlib``, whose frames a
    ``with`` block adds): a learner's notebook cell or script, not the library line that warns.

    Example: ``warnings.warn("...", RuntimeWarning, stacklevel=stacklevel_outside_recutils())``.
    """

    def inside(module: str) -> bool:
        return module == "contextlib" or module.split(".", 1)[0] == "recutils"

    frame = sys._getframe(1)  # the function that warns: stacklevel 1
    level = 1
    while frame.f_back is not None and inside(frame.f_globals.get("__name__", "")):
        frame = frame.f_back
        level += 1
    return level


def _what(meaning: str | None) -> str:
    return f" ({meaning})" if meaning else ""


def is_integer(value: Any) -> bool:
    """True for Python and NumPy integers, False for bools (and everything else)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_number(value: Any) -> bool:
    """True for Python and NumPy integers and floats, False for bools."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def integer(
    value: Any,
    name: str,
    meaning: str | None = None,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    """``value`` as an ``int`` in ``[minimum, maximum]`` (either bound may be ``None``)."""
    if is_integer(value) and (minimum is None or value >= minimum):
        if maximum is None or value <= maximum:
            return int(value)
    if maximum is not None:
        low = "" if minimum is None else f"from {minimum} "
        wanted = f"an integer {low}to {maximum}"
    elif minimum == 1:
        wanted = "a positive integer"
    elif minimum == 0:
        wanted = "a non-negative integer"
    elif minimum is not None:
        wanted = f"an integer >= {minimum}"
    else:
        wanted = "an integer"
    raise ValueError(f"{name} must be {wanted}{_what(meaning)}, got {value!r}")


def positive_int(value: Any, name: str, meaning: str | None = None) -> int:
    """``value`` as an ``int`` >= 1."""
    return integer(value, name, meaning, minimum=1)


def non_negative_int(value: Any, name: str, meaning: str | None = None) -> int:
    """``value`` as an ``int`` >= 0."""
    return integer(value, name, meaning, minimum=0)


def optional_positive_int(value: Any, name: str, meaning: str | None = None) -> int | None:
    """``None``, or ``value`` as an ``int`` >= 1."""
    return None if value is None else positive_int(value, name, meaning)


def number(
    value: Any,
    name: str,
    meaning: str | None = None,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    above_minimum: bool = False,
    below_maximum: bool = False,
) -> float:
    """``value`` as a finite ``float`` within the bounds (``above_minimum``: strictly above
    ``minimum``; ``below_maximum``: strictly below ``maximum``)."""
    if is_number(value) and np.isfinite(value):
        low_ok = minimum is None or (value > minimum if above_minimum else value >= minimum)
        high_ok = maximum is None or (value < maximum if below_maximum else value <= maximum)
        if low_ok and high_ok:
            return float(value)
    bounds = []
    if minimum is not None:
        bounds.append(f"{'>' if above_minimum else '>='} {minimum:g}")
    if maximum is not None:
        bounds.append(f"{'<' if below_maximum else '<='} {maximum:g}")
    wanted = "a finite number" + (" " + " and ".join(bounds) if bounds else "")
    raise ValueError(f"{name} must be {wanted}{_what(meaning)}, got {value!r}")


def positive_number(value: Any, name: str, meaning: str | None = None) -> float:
    """``value`` as a finite ``float`` > 0."""
    return number(value, name, meaning, minimum=0, above_minimum=True)


def non_negative_number(value: Any, name: str, meaning: str | None = None) -> float:
    """``value`` as a finite ``float`` >= 0."""
    return number(value, name, meaning, minimum=0)


def fraction(value: Any, name: str, meaning: str | None = None, *, one: bool = False) -> float:
    """``value`` as a ``float`` in ``[0, 1)`` (``[0, 1]`` with ``one=True``)."""
    return number(value, name, meaning, minimum=0, maximum=1, below_maximum=not one)


def boolean(value: Any, name: str, meaning: str | None = None) -> bool:
    """``value`` as a ``bool`` (Python or NumPy); nothing else, not even 0 or 1."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ValueError(f"{name} must be True or False{_what(meaning)}, got {value!r}")


def seed(value: Any, name: str = "seed") -> int:
    """A random seed: an ``int`` >= 0 (a fixed seed makes a result reproducible)."""
    return integer(value, name, "it fixes the random draws, so a result is reproducible", minimum=0)


def one_of(value: Any, name: str, options: Iterable[Any], meaning: str | None = None) -> Any:
    """``value`` if it is one of ``options`` (compared with ``==``, type included)."""
    allowed = list(options)
    if any(type(value) is type(option) and value == option for option in allowed):
        return value
    raise ValueError(f"{name} must be one of {allowed}{_what(meaning)}, got {value!r}")


def divisible_by_heads(width: int, name: str, heads: int) -> None:
    """Raise ``ValueError`` unless attention ``heads`` split ``width`` (the vector length called
    ``name``) into equal parts, suggesting the nearest widths and head counts that would."""
    if width % heads:
        raise ValueError(
            f"{name} ({width}) must be divisible by heads ({heads}): each head works on "
            f"{name} / heads numbers; e.g. {name}={-(-width // heads) * heads} or "
            f"heads={math.gcd(width, heads)}"
        )


def positions(values: Any, size: int, kind: str) -> np.ndarray:
    """``values`` as an int64 array of positions in ``0..size-1`` (a scalar becomes length 1).

    ``kind`` ("user" or "item") names the axis in messages: positions are rows or columns of a
    user-item matrix built with :class:`recutils.interactions.IdIndex`.
    """
    array = np.atleast_1d(np.asarray(values))
    if array.ndim != 1:
        raise ValueError(
            f"{kind}s must be a 1-D sequence of {kind} numbers, got shape {array.shape}"
        )
    if array.size and (array.dtype == bool or not np.issubdtype(array.dtype, np.integer)):
        raise ValueError(
            f"{kind}s must be integer {kind} numbers (rows/columns of the train matrix), got "
            f"dtype {array.dtype}; map ids to numbers with IdIndex.{kind}_positions"
        )
    array = array.astype(np.int64, copy=False)
    unknown = (array < 0) | (array >= size)
    if unknown.any():
        examples = [int(v) for v in array[unknown][:3]]
        raise ValueError(
            f"unknown {kind}(s) {examples}: the model was fitted on {size} "
            f"{kind}s, numbered 0..{size - 1}. A {kind} that was not in the training index has "
            f"no row; build the IdIndex from the whole dataset before splitting"
        )
    return array


def sparse_matrix(matrix: Any, name: str, shape: tuple[int, int] | None = None) -> sparse.csr_array:
    """A canonical CSR copy of ``matrix`` (sorted indices, no duplicates, no stored zeros)."""
    if not sparse.issparse(matrix):
        raise TypeError(
            f"{name} must be a scipy.sparse matrix, got {type(matrix).__name__}; "
            f"wrap a dense 0/1 array with scipy.sparse.csr_array({name})"
        )
    if matrix.ndim != 2:
        raise ValueError(f"{name} must be 2-D (users x items), got shape {matrix.shape}")
    if shape is not None and tuple(matrix.shape) != tuple(shape):
        raise ValueError(
            f"{name} has shape {tuple(matrix.shape)} but must have shape {tuple(shape)} "
            "(one row per user, one column per item of the catalog)"
        )
    csr = sparse.csr_array(matrix)  # shares the caller's arrays when it is already CSR
    if not csr.has_canonical_format or not csr.data.all():
        csr = csr.copy()  # never modify the caller's matrix
        csr.sum_duplicates()  # also sorts the column indices of every row
        csr.eliminate_zeros()
    return csr


def counts(values: Any, name: str = "counts") -> np.ndarray:
    """``values`` as a float64 1-D array of counts: finite, >= 0, not all 0 (e.g. per item)."""
    if sparse.issparse(values):
        raise TypeError(
            f"{name} must be a 1-D array of counts, got a sparse matrix; use e.g. "
            "np.asarray(matrix.sum(axis=0)).ravel() for counts per item"
        )
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(
            f"{name} must be 1-D (one count per item or user), got shape {values.shape}"
        )
    if values.size == 0:
        raise ValueError(f"{name} is empty; pass one count per item (or user), zeros included")
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError(f"{name} must be finite and >= 0 (e.g. interactions per item)")
    if values.sum() == 0:
        raise ValueError(f"{name} sums to 0; a share of nothing is undefined")
    return values


def finite_vector(
    values: Any, name: str, meaning: str = "one value per user", fix: str = ""
) -> np.ndarray:
    """``values`` as a 1-D float64 array of finite numbers, at least one; else ``ValueError``
    naming ``name``, the shape or the first bad value, and what one entry is (``meaning``);
    ``fix``, if given, is added to the message about NaN or infinite values.

    Example:
        >>> finite_vector([0.5, 1], "values")
        array([0.5, 1. ])
    """
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{name} must hold numbers ({meaning}), got {type(values).__name__} that cannot be "
            f"converted to float: {error}"
        ) from None
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D ({meaning}), got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty; give at least one value ({meaning})")
    finite = np.isfinite(array)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise ValueError(
            f"{name} has {bad.size} NaN or infinite value(s) (e.g. {array[bad[0]]} at "
            f"position {bad[0]}); every entry ({meaning}) must be a finite number"
            + (f". {fix}" if fix else "")
        )
    return array


def item_lists(values: Any, n_items: int, name: str = "recommended") -> np.ndarray:
    """``values`` as an int64 (n_users, k) array of ranked item numbers, each in
    ``0 .. n_items - 1`` or ``-1`` for an empty slot (what ``top_k_items`` returns); else
    ``ValueError`` naming ``name`` and the first entry out of range.

    Example:
        >>> item_lists([[2, 0, -1]], n_items=3)
        array([[ 2,  0, -1]])
    """
    array = np.asarray(values)
    if array.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array (users x ranks), got shape {array.shape}; "
            "use the output of top_k_items"
        )
    if array.dtype == bool or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            f"{name} must hold integer item indices, got dtype {array.dtype}; "
            "use the output of top_k_items or convert with .astype(np.int64)"
        )
    array = array.astype(np.int64, copy=False)
    if array.size and (array.min() < -1 or array.max() >= n_items):  # two cheap passes first
        too_small = array < -1
        if too_small.any():
            row, col = np.argwhere(too_small)[0]
            raise ValueError(
                f"{name} has {int(too_small.sum())} entries below -1 "
                f"(e.g. {array[row, col]} in row {row}, column {col}); "
                "valid entries are item indices 0..n_items-1 and -1 for an empty slot"
            )
        too_large = array >= n_items
        row, col = np.argwhere(too_large)[0]
        raise ValueError(
            f"{name} has {int(too_large.sum())} item indices >= n_items={n_items} "
            f"(e.g. {array[row, col]} in row {row}, column {col}); "
            f"valid entries are 0..{n_items - 1} and -1 for an empty slot"
        )
    return array


def dense_vectors(values: Any, name: str = "item_vectors") -> np.ndarray:
    """``values`` as a C-contiguous float32 (n, d) array, checked: dense, 2-D, numeric, finite.

    For side data such as item text vectors (one row per item).
    """
    if sparse.issparse(values):
        raise TypeError(
            f"{name} must be a dense numpy (n_items, d) array, got a sparse matrix; "
            "use dense text embeddings, e.g. encode_texts(item_texts(dataset.items))"
        )
    try:
        array = np.asarray(values)
    except (TypeError, ValueError):
        array = np.asarray([])
    if array.ndim != 2 or 0 in array.shape or not np.issubdtype(array.dtype, np.number):
        raise ValueError(
            f"{name} must be a 2-D numeric (n_items, d) array with one row per item, "
            f"got {type(values).__name__} of shape {getattr(array, 'shape', None)}; e.g. "
            "encode_texts(item_texts(dataset.items))"
        )
    array = np.ascontiguousarray(array, dtype=np.float32)
    bad_rows = np.flatnonzero(~np.isfinite(array).all(axis=1))
    if bad_rows.size:
        raise ValueError(
            f"{name} has {bad_rows.size} row(s) with NaN or infinite values (e.g. "
            f"rows {[int(r) for r in bad_rows[:3]]}); every item needs a finite vector (use a "
            "zero row for an item without text)"
        )
    return array


def _describe_value(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def text_list(texts: Any) -> list[str]:
    """``texts`` (list, tuple, 1-D array, Series or Index of str) as a list; a clear error naming
    the first entries that are not strings (missing text: use '')."""
    if isinstance(texts, (str, bytes)):
        raise TypeError(
            f"texts must be a list of strings, got a single {type(texts).__name__}; "
            "wrap it in a list: encode_texts([text])"
        )
    labels: Sequence[Any] | None = None
    if isinstance(texts, pd.Series):
        labels = list(texts.index)
        values = texts.tolist()
    elif isinstance(texts, np.ndarray):
        if texts.ndim != 1:
            raise ValueError(f"texts must be one-dimensional, got an array of shape {texts.shape}")
        values = texts.tolist()
    elif isinstance(texts, (Sequence, pd.Index)):
        values = list(texts)
    else:
        raise TypeError(
            f"texts must be a list, tuple, numpy array or pandas Series of str, "
            f"got {type(texts).__name__}"
        )
    bad = [i for i, value in enumerate(values) if not isinstance(value, str)]
    if bad:
        n_missing = sum(
            1
            for i in bad
            if values[i] is None or (pd.api.types.is_scalar(values[i]) and pd.isna(values[i]))
        )
        examples = []
        for i in bad[:3]:
            where = f"position {i}" + (f" (index {labels[i]!r})" if labels is not None else "")
            examples.append(f"{where}: {_describe_value(values[i])}")
        raise ValueError(
            f"texts has {len(bad)} entr{'y' if len(bad) == 1 else 'ies'} that are not strings "
            f"({n_missing} missing, i.e. None/NaN; e.g. {', '.join(examples)}); every entry must "
            "be a str (the empty string is fine): replace missing text with '' "
            "(e.g. texts.fillna('')) or drop those items, and convert other values with str()"
        )
    return values
