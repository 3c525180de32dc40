"""MovieLens 100K: GroupLens' classic movie ratings, mapped to the course schema.

100,000 ratings (1-5 stars) by 943 users on 1,682 movies, collected on the MovieLens web site
from September 1997 to April 1998; every user rated at least 20 movies. Source: GroupLens
Research, University of Minnesota, <https://grouplens.org/datasets/movielens/100k/>. Cite
:data:`CITATION` wherever results on it are shown.

Licence: GroupLens' terms allow research use but **not redistribution**, so the course never
ships the file: you download it yourself (``download=True`` or by hand) and it stays in your
data directory (``data/`` is not committed).

Where the file comes from
    :func:`load_movielens_100k` looks in ``data_dir() / "movielens-100k"`` (see
    :func:`recutils.environment.data_dir`: the ``data_dir`` argument, else
    ``$RECUTILS_DATA_DIR``, else the repository's ``data/``) for, in this order:

    1. ``u.data`` -- the ratings, extracted, directly in that folder (``u.item`` beside it is
       used for titles and genres when present);
    2. ``ml-100k/u.data`` -- the same inside the folder the official zip extracts to;
    3. ``ml-100k.zip`` -- the official zip (:data:`ZIP_URL`), read without extracting it.
       ``download=True`` fetches it when none of the three is there.

    Nothing is downloaded unless you pass ``download=True``.

How the file is checked
    The course was built without network access, so the SHA-256 of the official zip could not
    be measured (and a zip's bytes change when it is re-packed although the data do not). What
    is known is the content of ``u.data``, so after reading it the loader compares the row
    count with :data:`RAW_ROWS` and :func:`content_fingerprint` with
    :data:`CONTENT_FINGERPRINT`: a SHA-256 over the ratings sorted by (user, item), so it does
    not depend on the row order, the line endings or a header line. Any changed, missing or
    extra rating fails; ``verify=False`` skips the comparison (``Dataset.info["verified"]``
    then says so). ``u.item`` is not checked (it only adds titles and genres).

Mapping to the schema (:mod:`recutils.schema`)
    interactions (one row per rating): ``user_id`` = the user number as text (``"196"``),
    ``item_id`` = the movie number as text (``"242"``), ``timestamp`` = the rating time
    (unix seconds, UTC, as naive datetime64), ``event`` = ``"rating"``, ``weight`` = 1.0,
    ``price`` = missing, plus the extra column ``rating`` (the stars, int64 1-5). Sorted by
    (timestamp, user, item).

    Every rating counts as one interaction, whatever its stars: binary implicit feedback, as
    in Microsoft Recommenders' top-k benchmarks on this dataset ("the user chose to watch and
    rate this movie"). Keep or filter by ``rating`` yourself for other protocols (e.g. only
    ratings >= 4 as positives).

    items (all 1,682 movies, in numeric order): ``title`` from ``u.item`` (e.g.
    ``"Toy Story (1995)"``; missing without ``u.item``); ``category`` = the movie's genres
    joined by ``", "`` in the order of :data:`GENRES` (e.g. ``"Animation, Children's,
    Comedy"``; genres are a set, not a path, hence not the schema's ``" > "``; missing without
    ``u.item``); ``description``, ``brand``, ``price`` = missing.

    users (all 943, in numeric order): ``user_id`` and ``first_rating_time``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recutils.environment import data_dir as resolve_data_dir
from recutils.files import download_zip, sha256_of
from recutils.schema import (
    BRAND,
    CATEGORY,
    DESCRIPTION,
    EVENT,
    ITEM,
    PRICE,
    TIMESTAMP,
    TITLE,
    USER,
    WEIGHT,
    Dataset,
)

NAME = "movielens-100k"

#: The official zip, as GroupLens serves it.
ZIP_FILE = "ml-100k.zip"
#: The folder inside the zip (and the one it extracts to).
ZIP_FOLDER = "ml-100k"
#: Ratings: tab-separated ``user  item  rating  unix_time``, no header.
RATINGS_FILE = "u.data"
#: Movies: ``|``-separated, latin-1: id, title, release date, video release date, IMDb URL and
#: the 19 genre flags of :data:`GENRES`.
ITEMS_FILE = "u.item"

PAGE_URL = "https://grouplens.org/datasets/movielens/100k/"
ZIP_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
LICENCE = (
    "GroupLens research licence: use for research is allowed, redistribution is not "
    "(see the README in the zip); cite the paper below"
)
CITATION = (
    'F. Maxwell Harper and Joseph A. Konstan (2015), "The MovieLens Datasets: History and '
    'Context", ACM Transactions on Interactive Intelligent Systems 5(4), 19:1-19:19, '
    "doi:10.1145/2827872."
)

#: The 19 genre flags of ``u.item``, in file order.
GENRES: tuple[str, ...] = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
#: Columns of the raw ratings table returned by :func:`read_ratings`.
RATING_COLUMNS: tuple[str, ...] = ("user", "item", "rating", "timestamp")
_ITEM_FILE_COLUMNS: tuple[str, ...] = (
    "item",
    "title",
    "release_date",
    "video_release_date",
    "imdb_url",
    *GENRES,
)

#: Ratings in ``u.data``.
RAW_ROWS = 100_000
#: Users and movies in ``u.data``.
N_USERS = 943
N_ITEMS = 1_682
#: :func:`content_fingerprint` of the official ``u.data`` (100,000 ratings, 943 users, 1,682
#: movies, stars summing to 352,986).
CONTENT_FINGERPRINT = "f5c2f040f0bb1b46a968f169903bbbdd364a548c2e13a0f7ea347a697a8aed88"

_FINGERPRINT_VERSION = "recutils movielens-100k content fingerprint v1"
_DOWNLOAD_TIMEOUT_SECONDS = 60.0


# --------------------------------------------------------------------------------------------
# Finding and downloading the files


def _how_to_provide(folder: Path) -> str:
    return (
        f"Put '{ZIP_FILE}' (from {ZIP_URL}, linked from {PAGE_URL}) into {folder}, or its "
        f"extracted '{RATINGS_FILE}' (with '{ITEMS_FILE}' for titles and genres) directly into "
        f"that folder or into {folder / ZIP_FOLDER}. Or call "
        "load_movielens_100k(download=True) (load('movielens-100k', download=True)) to "
        "download the zip (5 MB). GroupLens does not allow redistribution, so the course "
        "cannot ship it. To use another folder pass data_dir=... or set the environment "
        f"variable RECUTILS_DATA_DIR; the files live in <data_dir>/{NAME}/."
    )


def find_source(folder: str | os.PathLike[str]) -> Path | None:
    """The ratings source in ``folder``, or ``None``: ``u.data``, else ``ml-100k/u.data``,
    else ``ml-100k.zip`` (module docstring)."""
    folder = Path(folder)
    for candidate in (
        folder / RATINGS_FILE,
        folder / ZIP_FOLDER / RATINGS_FILE,
        folder / ZIP_FILE,
    ):
        if candidate.is_file():
            return candidate
    return None


def download_movielens_100k(
    folder: str | os.PathLike[str],
    url: str = ZIP_URL,
    timeout: float = _DOWNLOAD_TIMEOUT_SECONDS,
) -> Path:
    """Download the official zip into ``folder`` as ``ml-100k.zip`` and return its path.

    The file is written under a temporary name and renamed (``os.replace``) only once it is
    complete and is a zip archive, so an interrupted download leaves nothing that looks like
    the dataset. Its content is checked when it is loaded (module docstring).

    Raises:
        FileNotFoundError: the download failed (no network, timeout, HTTP error); the message
            says which file to put where by hand.
        ValueError: what was downloaded is not a zip archive.
    """
    folder = Path(folder)
    return download_zip(url, folder / ZIP_FILE, timeout, "MovieLens 100K", _how_to_provide(folder))


# --------------------------------------------------------------------------------------------
# Reading and checking


def _zip_member(archive: zipfile.ZipFile, name: str, path: Path) -> str | None:
    """The member ``ml-100k/<name>`` (or, failing that, one member ending in ``/<name>`` or
    named ``<name>``) of the archive; ``None`` if there is none."""
    members = archive.namelist()
    if f"{ZIP_FOLDER}/{name}" in members:
        return f"{ZIP_FOLDER}/{name}"
    matches = [m for m in members if m == name or m.endswith(f"/{name}")]
    if len(matches) > 1:
        raise ValueError(
            f"{path} contains several files named {name} ({matches}); the official zip has "
            f"one, '{ZIP_FOLDER}/{name}'. Download it again from {ZIP_URL}"
        )
    return matches[0] if matches else None


def _ratings_text(source: Path) -> tuple[bytes, str]:
    """The bytes of ``u.data`` and a label naming where they came from."""
    if source.suffix.lower() == ".zip":
        with zipfile.ZipFile(source) as archive:
            member = _zip_member(archive, RATINGS_FILE, source)
            if member is None:
                raise ValueError(
                    f"{source} has no {RATINGS_FILE} (it contains {archive.namelist()[:10]}); "
                    f"download the zip again from {ZIP_URL}"
                )
            return archive.read(member), f"{source}:{member}"
    return source.read_bytes(), str(source)


def parse_ratings(content: bytes | str, source: str = "u.data") -> pd.DataFrame:
    """Parse the text of ``u.data`` into the raw ratings table.

    Fields may be separated by tabs or spaces, lines may end in ``\\n`` or ``\\r\\n``, and a
    first line that does not start with a number (a header such as ``user_id  item_id ...``)
    is skipped.

    Returns:
        int64 columns ``user``, ``item``, ``rating``, ``timestamp`` (unix seconds), one row per
        line, in file order.

    Raises:
        ValueError: a line without four integers, or stars outside 1-5 (the message names
            ``source`` and the first bad line).
    """
    text = content.decode("latin-1") if isinstance(content, bytes) else content
    lines = text.splitlines()
    if lines and lines[0].strip() and not lines[0].split()[0].lstrip("-").isdigit():
        lines = lines[1:]  # a header line
    fields = [line.split() for line in lines if line.strip()]
    bad = [i for i, row in enumerate(fields) if len(row) != 4]
    if bad:
        raise ValueError(
            f"{source}: line {bad[0] + 1} of the ratings has {len(fields[bad[0]])} field(s) "
            f"({' '.join(fields[bad[0]])!r}); every line of {RATINGS_FILE} must hold four "
            "integers: user, item, rating, unix time"
        )
    try:
        values = np.array(fields, dtype=np.int64).reshape(-1, 4)
    except ValueError as error:
        raise ValueError(
            f"{source}: a ratings line has a field that is not an integer ({error}); every "
            f"line of {RATINGS_FILE} must hold four integers: user, item, rating, unix time"
        ) from error
    ratings = pd.DataFrame(values, columns=list(RATING_COLUMNS))
    out_of_range = ~ratings["rating"].between(1, 5)
    if out_of_range.any():
        first = ratings[out_of_range].iloc[0].to_dict()
        raise ValueError(
            f"{source}: {int(out_of_range.sum())} rating(s) outside 1-5 (e.g. {first}); "
            "MovieLens stars are the integers 1 to 5"
        )
    return ratings


def read_ratings(source: str | os.PathLike[str]) -> pd.DataFrame:
    """Read ``u.data``, or the ``ml-100k/u.data`` inside the official zip, with
    :func:`parse_ratings`. No content check here (see :func:`load_movielens_100k`)."""
    content, label = _ratings_text(Path(source))
    return parse_ratings(content, label)


def parse_items(content: bytes | str, source: str = "u.item") -> pd.DataFrame:
    """Parse the text of ``u.item`` (``|``-separated; bytes are decoded as latin-1).

    Returns:
        One row per movie: ``item`` (int64), ``title``, ``release_date``, ``video_release_date``,
        ``imdb_url`` (text, missing where empty) and the 19 genre flags of :data:`GENRES`
        (int64 0/1).
    """
    text = content.decode("latin-1") if isinstance(content, bytes) else content
    how = (
        f"every line of {ITEMS_FILE} must be 'id|title|release date|video release date|"
        "IMDb URL|' followed by the 19 genre flags 0/1"
    )
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep="|",
            header=None,
            names=list(_ITEM_FILE_COLUMNS),
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            quoting=csv.QUOTE_NONE,  # titles contain quotes
        )
    except pd.errors.ParserError as error:  # a line with more than 24 fields
        raise ValueError(f"{source}: {error}; {how}") from error
    try:
        frame["item"] = pd.to_numeric(frame["item"], errors="raise").astype(np.int64)
        for genre in GENRES:
            frame[genre] = pd.to_numeric(frame[genre], errors="raise").astype(np.int64)
    except (ValueError, TypeError) as error:  # a missing or non-numeric id or flag
        raise ValueError(f"{source}: {error}; {how}") from error
    duplicated = frame["item"].duplicated()
    if duplicated.any():
        raise ValueError(
            f"{source}: movie id(s) {frame.loc[duplicated, 'item'].tolist()[:5]} appear more "
            "than once; each movie must have one line"
        )
    return frame


def read_items(source: str | os.PathLike[str]) -> pd.DataFrame | None:
    """The movies of ``u.item`` beside ``source`` (a ``u.data`` file) or inside it (the zip),
    parsed with :func:`parse_items`; ``None`` if there is no ``u.item``."""
    source = Path(source)
    if source.suffix.lower() == ".zip":
        with zipfile.ZipFile(source) as archive:
            member = _zip_member(archive, ITEMS_FILE, source)
            if member is None:
                return None
            return parse_items(archive.read(member), f"{source}:{member}")
    path = source.with_name(ITEMS_FILE)
    if not path.is_file():
        return None
    return parse_items(path.read_bytes(), str(path))


def content_fingerprint(ratings: pd.DataFrame) -> str:
    """SHA-256 over the ratings, independent of row order, line endings and a header line.

    The four columns ``user, item, rating, timestamp`` are taken as int64, the rows sorted by
    (user, item) (ties, which the official file does not have, by rating, then time), and the
    resulting (n, 4) array is hashed as little-endian 8-byte integers, row by row, after a
    version line. Any changed, missing or extra rating changes the fingerprint.
    """
    missing = [c for c in RATING_COLUMNS if c not in ratings.columns]
    if missing:
        raise ValueError(
            f"ratings is missing column(s) {missing}; it has {list(ratings.columns)} "
            f"(use read_ratings, which returns {list(RATING_COLUMNS)})"
        )
    values = np.column_stack([ratings[c].to_numpy(dtype=np.int64) for c in RATING_COLUMNS])
    order = np.lexsort((values[:, 3], values[:, 2], values[:, 1], values[:, 0]))
    digest = hashlib.sha256(_FINGERPRINT_VERSION.encode())
    digest.update(np.ascontiguousarray(values[order], dtype="<i8").tobytes())
    return digest.hexdigest()


def _check_content(ratings: pd.DataFrame, fingerprint: str, source: str) -> None:
    how = (
        f"the file is damaged, incomplete or not the official MovieLens 100K u.data; download "
        f"it again from {ZIP_URL} (or pass verify=False to load it anyway)"
    )
    if len(ratings) != RAW_ROWS:
        raise ValueError(f"{source} has {len(ratings):,} ratings, expected {RAW_ROWS:,}: {how}")
    if fingerprint != CONTENT_FINGERPRINT:
        raise ValueError(
            f"{source} has content fingerprint {fingerprint}, expected {CONTENT_FINGERPRINT} "
            f"(same number of ratings, different values): {how}"
        )


# --------------------------------------------------------------------------------------------
# Mapping to the schema


def _genres(movies: pd.DataFrame) -> pd.Series:
    """Per movie, its genres joined by ", " in :data:`GENRES` order; missing if it has none."""
    flags = movies[list(GENRES)].to_numpy() > 0
    names = np.asarray(GENRES, dtype=object)
    joined = [", ".join(names[row]) if row.any() else np.nan for row in flags]
    return pd.Series(joined, index=movies.index, dtype=object)


def _items(ratings: pd.DataFrame, movies: pd.DataFrame | None) -> pd.DataFrame:
    known = ratings["item"].to_numpy()
    if movies is not None:
        known = np.concatenate([known, movies["item"].to_numpy()])
    ids = np.unique(known)  # numeric order: "1", "2", ..., "1682"
    missing = pd.Series(np.nan, index=ids, dtype=object)
    title, category = missing, missing
    if movies is not None:
        indexed = movies.set_index("item")
        title = indexed["title"].str.strip().reindex(ids)
        category = _genres(movies).set_axis(movies["item"].to_numpy()).reindex(ids)
    items = pd.DataFrame(
        {
            ITEM: ids.astype(str),
            TITLE: title.to_numpy(dtype=object),
            DESCRIPTION: missing.to_numpy(),
            CATEGORY: category.to_numpy(dtype=object),
            BRAND: missing.to_numpy(),
            PRICE: np.full(len(ids), np.nan),
        }
    )
    return items


def build_dataset(
    ratings: pd.DataFrame, movies: pd.DataFrame | None = None, info: dict[str, Any] | None = None
) -> Dataset:
    """Map raw ratings (and optionally the parsed ``u.item``) to a validated :class:`Dataset`
    (mapping in the module docstring)."""
    ordered = ratings.sort_values(["timestamp", "user", "item"], kind="stable")
    times = pd.to_datetime(ordered["timestamp"].to_numpy(), unit="s").astype("datetime64[ns]")
    interactions = pd.DataFrame(
        {
            USER: ordered["user"].astype(str).to_numpy(),
            ITEM: ordered["item"].astype(str).to_numpy(),
            TIMESTAMP: times,
            EVENT: "rating",
            WEIGHT: 1.0,
            PRICE: np.nan,
            "rating": ordered["rating"].to_numpy(dtype=np.int64),
        }
    )
    first = ratings.groupby("user")["timestamp"].min().sort_index()
    users = pd.DataFrame(
        {
            USER: first.index.astype(str),
            "first_rating_time": pd.to_datetime(first.to_numpy(), unit="s").astype(
                "datetime64[ns]"
            ),
        }
    )
    facts: dict[str, Any] = {
        "source": "GroupLens Research, MovieLens 100K",
        "url": PAGE_URL,
        "download_url": ZIP_URL,
        "licence": LICENCE,
        "citation": CITATION,
        **(info or {}),
        "ratings": len(ratings),
        "users": int(ratings["user"].nunique()),
        "items_rated": int(ratings["item"].nunique()),
        "feedback": (
            "binary implicit: every rating is one interaction with weight 1.0; the stars are "
            "in the extra column 'rating'"
        ),
        "timestamps": "UTC, from unix seconds",
    }
    dataset = Dataset(
        name=NAME,
        interactions=interactions,
        items=_items(ratings, movies),
        users=users,
        info=facts,
    )
    return dataset.validate()


def load_movielens_100k(
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = False,
    verify: bool = True,
) -> Dataset:
    """Load MovieLens 100K as a validated :class:`~recutils.schema.Dataset` ("movielens-100k").

    Args:
        data_dir: the data directory; the files are looked for in
            ``data_dir / "movielens-100k"``. ``None``: ``$RECUTILS_DATA_DIR``, else the
            repository's ``data/``.
        download: if no file is there, download the official zip from GroupLens (5 MB). Off by
            default: nothing is downloaded unless you ask.
        verify: check the row count and the content fingerprint of ``u.data``. Turn off only
            for a file you trust whose check fails; ``info["verified"]`` records it.

    Returns:
        The dataset: 100,000 rating events (``weight`` 1.0, stars in ``rating``), 1,682 movies
        (title and genres if ``u.item`` is present), 943 users (first rating time), and
        ``info`` with source, licence, citation and the check.

    Raises:
        FileNotFoundError: no file in the folder (and ``download`` is off or failed); the
            message says which file to put where.
        ValueError: ``u.data`` fails its check (message: file, expected and actual row count or
            fingerprint, and what to do) or cannot be parsed.
    """
    folder = resolve_data_dir(data_dir) / NAME
    source = find_source(folder)
    if source is None:
        if not download:
            raise FileNotFoundError(
                f"No MovieLens 100K file in {folder}. " + _how_to_provide(folder)
            )
        source = download_movielens_100k(folder)
    ratings = read_ratings(source)
    movies = read_items(source)
    fingerprint = content_fingerprint(ratings)
    if verify:
        _check_content(ratings, fingerprint, str(source))
    info: dict[str, Any] = {
        "file": source.relative_to(folder).as_posix(),
        "file_sha256": sha256_of(source),
        "items_file": None if movies is None else ITEMS_FILE,
        "content_fingerprint": fingerprint,
        "verified": (
            "row count and content fingerprint of u.data"
            if verify
            else "not verified (verify=False)"
        ),
    }
    return build_dataset(ratings, movies, info)
