"""MovieLens 100K loader: parsing, zip and folder layouts, schema mapping, content check,
download; and the real file when ``$RECUTILS_MOVIELENS_DIR`` points at it."""

from __future__ import annotations

import io
import os
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recutils.datasets import DATASETS, load
from recutils.datasets import movielens as ml
from recutils.datasets.movielens import load_movielens_100k

# ---------------------------------------------------------------------------------------------
# Small fake files in the official formats

RATING_LINES = [
    "196\t242\t3\t881250949",
    "186\t302\t3\t891717742",
    "22\t377\t1\t878887116",
    "196\t377\t5\t881250950",
    "22\t242\t4\t878887200",
    "186\t1\t2\t891717800",
]
FLAGS_NONE = "|".join(["0"] * 19)


def _flags(*genres: str) -> str:
    return "|".join("1" if g in genres else "0" for g in ml.GENRES)


ITEM_LINES = [
    "1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|"
    + _flags("Animation", "Children's", "Comedy"),
    "242|Kolya (1996)|24-Jan-1997||http://us.imdb.com/M/title-exact?Kolya%20(1996)|"
    + _flags("Comedy"),
    "302|L.A. Confidential (1997)|01-Jan-1997||http://us.imdb.com/x|"
    + _flags("Crime", "Film-Noir", "Mystery", "Thriller"),
    '377|Misérables, Les "The" (1995)|01-Jan-1995||http://us.imdb.com/y|' + _flags("Drama"),
    "999|Never Rated (1998)|01-Jan-1998||http://us.imdb.com/z|" + _flags("unknown"),
    "1000|No Genre (1998)|||" + "|" + FLAGS_NONE,
]


def ratings_text(lines: list[str] = RATING_LINES, newline: str = "\n") -> str:
    return newline.join(lines) + newline


def items_bytes(lines: list[str] = ITEM_LINES) -> bytes:
    return ("\n".join(lines) + "\n").encode("latin-1")


def write_extracted(folder: Path, with_items: bool = True, text: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ml.RATINGS_FILE).write_text(text or ratings_text(), encoding="ascii", newline="")
    if with_items:
        (folder / ml.ITEMS_FILE).write_bytes(items_bytes())
    return folder / ml.RATINGS_FILE


def write_zip(path: Path, with_items: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{ml.ZIP_FOLDER}/README", "MovieLens 100K (fake)\n")
        archive.writestr(f"{ml.ZIP_FOLDER}/{ml.RATINGS_FILE}", ratings_text())
        archive.writestr(f"{ml.ZIP_FOLDER}/u1.base", ratings_text()[:40])
        if with_items:
            archive.writestr(f"{ml.ZIP_FOLDER}/{ml.ITEMS_FILE}", items_bytes())
    return path


def fake_ratings() -> pd.DataFrame:
    return ml.parse_ratings(ratings_text())


@pytest.fixture
def trusted_fake(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the fake ratings pass the content check, as the real file does."""
    monkeypatch.setattr(ml, "RAW_ROWS", len(RATING_LINES))
    monkeypatch.setattr(ml, "CONTENT_FINGERPRINT", ml.content_fingerprint(fake_ratings()))


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make every urlopen fail as if offline; returns the URLs that were tried."""
    tried: list[str] = []

    def offline(url, *args, **kwargs):
        tried.append(str(url))
        raise urllib.error.URLError("no network in tests")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    return tried


def serve(monkeypatch: pytest.MonkeyPatch, payload: bytes) -> list[float]:
    """Make urlopen return ``payload``; returns the timeouts it was called with."""
    timeouts: list[float] = []

    def fake_urlopen(url, timeout=None, **kwargs):
        timeouts.append(timeout)
        return io.BytesIO(payload)

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    return timeouts


# ---------------------------------------------------------------------------------------------
# Parsing and the fingerprint


def test_parse_ratings_reads_four_int_columns_in_file_order() -> None:
    ratings = fake_ratings()
    assert list(ratings.columns) == list(ml.RATING_COLUMNS)
    assert all(dtype == np.int64 for dtype in ratings.dtypes)
    assert ratings.iloc[0].tolist() == [196, 242, 3, 881250949]
    assert len(ratings) == len(RATING_LINES)


def test_parse_ratings_accepts_crlf_spaces_and_a_header() -> None:
    plain = fake_ratings()
    crlf = ml.parse_ratings(ratings_text(newline="\r\n").encode())
    spaces = ml.parse_ratings(ratings_text().replace("\t", " "))
    header = ml.parse_ratings("user_id\titem_id\trating\ttimestamp\n" + ratings_text())
    for other in (crlf, spaces, header):
        pd.testing.assert_frame_equal(other, plain)


def test_fingerprint_ignores_row_order_line_endings_and_header() -> None:
    expected = ml.content_fingerprint(fake_ratings())
    shuffled = ml.parse_ratings(ratings_text(RATING_LINES[::-1], newline="\r\n"))
    with_header = ml.parse_ratings("user\titem\trating\ttimestamp\n" + ratings_text())
    assert ml.content_fingerprint(shuffled) == expected
    assert ml.content_fingerprint(with_header) == expected
    assert ml.content_fingerprint(fake_ratings().sample(frac=1.0, random_state=3)) == expected


def test_fingerprint_changes_with_any_value_or_row() -> None:
    ratings = fake_ratings()
    expected = ml.content_fingerprint(ratings)
    for column in ml.RATING_COLUMNS:
        changed = ratings.copy()
        changed.loc[2, column] += 1
        assert ml.content_fingerprint(changed) != expected, column
    assert ml.content_fingerprint(ratings.iloc[1:]) != expected
    assert ml.content_fingerprint(pd.concat([ratings, ratings.iloc[:1]])) != expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("196\t242\t3\n", "3 field"),
        ("196\t242\tthree\t881250949\n", "not an integer"),
        ("196\t242\t6\t881250949\n", "outside 1-5"),
    ],
)
def test_parse_ratings_rejects_bad_lines(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ml.parse_ratings(text, "fake/u.data")


def test_parse_items_decodes_latin1_titles_and_flags() -> None:
    movies = ml.parse_items(items_bytes())
    assert movies["item"].tolist() == [1, 242, 302, 377, 999, 1000]
    assert movies.loc[3, "title"] == 'Misérables, Les "The" (1995)'
    assert movies.loc[0, "Animation"] == 1 and movies.loc[0, "Drama"] == 0
    assert pd.isna(movies.loc[5, "release_date"])


@pytest.mark.parametrize(
    "line",
    [
        "1|Toy Story (1995)|01-Jan-1995||url|0|0|1",  # genre flags missing
        "x|Toy Story (1995)|01-Jan-1995||url|" + FLAGS_NONE,  # id not a number
        "1|Toy Story (1995)|01-Jan-1995||url|" + FLAGS_NONE + "|0|0",  # too many fields
    ],
)
def test_parse_items_rejects_bad_lines(line: str) -> None:
    with pytest.raises(ValueError, match="19 genre flags"):
        ml.parse_items(items_bytes([ITEM_LINES[1], line]), "fake/u.item")


# ---------------------------------------------------------------------------------------------
# Finding the files and mapping to the schema


def test_find_source_order(tmp_path: Path) -> None:
    folder = tmp_path / ml.NAME
    assert ml.find_source(folder) is None
    write_zip(folder / ml.ZIP_FILE)
    assert ml.find_source(folder) == folder / ml.ZIP_FILE
    write_extracted(folder / ml.ZIP_FOLDER)
    assert ml.find_source(folder) == folder / ml.ZIP_FOLDER / ml.RATINGS_FILE
    write_extracted(folder)
    assert ml.find_source(folder) == folder / ml.RATINGS_FILE


def test_schema_mapping_with_items(tmp_path: Path, trusted_fake: None) -> None:
    write_extracted(tmp_path / ml.NAME)
    data = load_movielens_100k(tmp_path)
    inter = data.interactions
    assert len(inter) == len(RATING_LINES)
    assert inter["user_id"].map(type).eq(str).all() and inter["item_id"].map(type).eq(str).all()
    assert set(inter["event"]) == {"rating"}
    assert (inter["weight"] == 1.0).all() and inter["price"].isna().all()
    assert inter["timestamp"].is_monotonic_increasing
    first = inter[(inter["user_id"] == "196") & (inter["item_id"] == "242")].iloc[0]
    assert first["rating"] == 3
    assert first["timestamp"] == pd.Timestamp(881250949, unit="s")
    assert inter["rating"].dtype == np.int64

    items = data.items.set_index("item_id")
    assert list(items.index) == ["1", "242", "302", "377", "999", "1000"]  # numeric order
    assert items.loc["1", "title"] == "Toy Story (1995)"
    assert items.loc["1", "category"] == "Animation, Children's, Comedy"
    assert items.loc["302", "category"] == "Crime, Film-Noir, Mystery, Thriller"
    assert items.loc["377", "title"] == 'Misérables, Les "The" (1995)'
    assert items.loc["999", "category"] == "unknown"  # in the catalog although never rated
    assert pd.isna(items.loc["1000", "category"])
    assert items[["description", "brand", "price"]].isna().all().all()

    users = data.users.set_index("user_id")
    assert list(users.index) == ["22", "186", "196"]
    assert users.loc["196", "first_rating_time"] == pd.Timestamp(881250949, unit="s")

    info = data.info
    assert info["verified"] == "row count and content fingerprint of u.data"
    assert info["items_file"] == "u.item" and info["file"] == "u.data"
    assert "Harper" in info["citation"] and "redistribution" in info["licence"]
    assert info["content_fingerprint"] == ml.CONTENT_FINGERPRINT


def test_without_u_item_titles_and_genres_are_missing(tmp_path: Path, trusted_fake: None) -> None:
    write_extracted(tmp_path / ml.NAME, with_items=False)
    data = load_movielens_100k(tmp_path)
    assert data.items["item_id"].tolist() == ["1", "242", "302", "377"]
    assert data.items[["title", "category"]].isna().all().all()
    assert data.info["items_file"] is None


def test_zip_and_extracted_folder_give_the_same_dataset(tmp_path: Path, trusted_fake: None) -> None:
    write_zip(tmp_path / "a" / ml.NAME / ml.ZIP_FILE)
    write_extracted(tmp_path / "b" / ml.NAME / ml.ZIP_FOLDER)
    from_zip = load_movielens_100k(tmp_path / "a")
    from_folder = load_movielens_100k(tmp_path / "b")
    pd.testing.assert_frame_equal(from_zip.interactions, from_folder.interactions)
    pd.testing.assert_frame_equal(from_zip.items, from_folder.items)
    pd.testing.assert_frame_equal(from_zip.users, from_folder.users)
    assert from_zip.info["file"] == ml.ZIP_FILE
    assert from_folder.info["file"] == f"{ml.ZIP_FOLDER}/{ml.RATINGS_FILE}"


def test_load_by_name(tmp_path: Path, trusted_fake: None) -> None:
    assert "movielens-100k" in DATASETS
    write_extracted(tmp_path / ml.NAME)
    data = load("movielens-100k", data_dir=tmp_path)
    assert data.name == "movielens-100k" and len(data.interactions) == len(RATING_LINES)


def test_data_dir_from_environment(
    tmp_path: Path, trusted_fake: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_extracted(tmp_path / ml.NAME)
    monkeypatch.setenv("RECUTILS_DATA_DIR", str(tmp_path))
    assert len(load_movielens_100k().interactions) == len(RATING_LINES)


# ---------------------------------------------------------------------------------------------
# The content check


def test_wrong_row_count_fails_and_verify_false_loads(tmp_path: Path) -> None:
    source = write_extracted(tmp_path / ml.NAME)
    with pytest.raises(ValueError) as error:
        load_movielens_100k(tmp_path)
    message = str(error.value)
    assert str(source) in message and "100,000" in message and f"has {len(RATING_LINES)}" in message
    assert "verify=False" in message and ml.ZIP_URL in message
    data = load_movielens_100k(tmp_path, verify=False)
    assert data.info["verified"] == "not verified (verify=False)"
    assert len(data.interactions) == len(RATING_LINES)


def test_changed_rating_fails_the_fingerprint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trusted_fake: None
) -> None:
    changed = [*RATING_LINES[:-1], "186\t1\t3\t891717800"]  # 2 stars -> 3
    source = write_extracted(tmp_path / ml.NAME, text=ratings_text(changed))
    with pytest.raises(ValueError) as error:
        load_movielens_100k(tmp_path)
    message = str(error.value)
    actual = ml.content_fingerprint(ml.read_ratings(source))
    assert str(source) in message and ml.CONTENT_FINGERPRINT in message and actual in message
    assert load_movielens_100k(tmp_path, verify=False).info["content_fingerprint"] == actual


# ---------------------------------------------------------------------------------------------
# Download


def test_missing_file_without_download_names_file_and_folder(
    tmp_path: Path, no_network: list[str]
) -> None:
    with pytest.raises(FileNotFoundError) as error:
        load_movielens_100k(tmp_path)
    message = str(error.value)
    assert str(tmp_path / ml.NAME) in message and ml.ZIP_FILE in message
    assert "download=True" in message and ml.ZIP_URL in message
    assert no_network == []  # nothing is downloaded by default


def test_offline_download_raises_and_leaves_nothing(tmp_path: Path, no_network: list[str]) -> None:
    with pytest.raises(FileNotFoundError) as error:
        load_movielens_100k(tmp_path, download=True)
    assert no_network == [ml.ZIP_URL]
    message = str(error.value)
    assert "Could not download" in message and str(tmp_path / ml.NAME) in message
    assert list((tmp_path / ml.NAME).iterdir()) == []


def test_download_writes_the_zip_and_loads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trusted_fake: None
) -> None:
    payload = write_zip(tmp_path / "served.zip").read_bytes()
    timeouts = serve(monkeypatch, payload)
    data = load_movielens_100k(tmp_path / "data", download=True)
    folder = tmp_path / "data" / ml.NAME
    assert [p.name for p in folder.iterdir()] == [ml.ZIP_FILE]
    assert (folder / ml.ZIP_FILE).read_bytes() == payload
    assert timeouts and all(t is not None and t > 0 for t in timeouts)
    assert data.items.set_index("item_id").loc["1", "title"] == "Toy Story (1995)"


def test_download_that_is_not_a_zip_is_rejected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve(monkeypatch, b"<html>moved</html>")
    with pytest.raises(ValueError, match="not a zip archive"):
        ml.download_movielens_100k(tmp_path)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# The real file (not redistributable: only where $RECUTILS_MOVIELENS_DIR points at it)


@pytest.fixture(scope="module")
def real_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory holding the real dataset: ``$RECUTILS_MOVIELENS_DIR`` is either a data
    directory with ``movielens-100k/`` in it or that folder itself."""
    value = os.environ.get("RECUTILS_MOVIELENS_DIR")
    if not value:
        pytest.skip(
            "MovieLens 100K is not redistributable, so it is not in the shared data directory; "
            "set RECUTILS_MOVIELENS_DIR to a data directory holding movielens-100k/u.data (or "
            "ml-100k.zip), e.g. after load('movielens-100k', download=True)"
        )
    root = Path(value).expanduser()
    if ml.find_source(root / ml.NAME) is not None:
        return root
    if ml.find_source(root) is not None:
        linked = tmp_path_factory.mktemp("movielens")
        (linked / ml.NAME).symlink_to(root.resolve(), target_is_directory=True)
        return linked
    pytest.skip(f"RECUTILS_MOVIELENS_DIR={value} holds no u.data or {ml.ZIP_FILE}")


def test_real_file_has_the_published_figures(real_data_dir: Path) -> None:
    data = load_movielens_100k(real_data_dir)
    inter = data.interactions
    assert len(inter) == ml.RAW_ROWS == 100_000
    assert inter["user_id"].nunique() == ml.N_USERS == 943
    assert inter["item_id"].nunique() == ml.N_ITEMS == 1_682
    assert len(data.items) == 1_682 and len(data.users) == 943
    assert int(inter["rating"].sum()) == 352_986
    assert inter["rating"].value_counts().sort_index().tolist() == [
        6_110,
        11_370,
        27_145,
        34_174,
        21_201,
    ]
    assert data.info["content_fingerprint"] == ml.CONTENT_FINGERPRINT
    assert str(inter["timestamp"].min()) == "1997-09-20 03:05:10"
    assert str(inter["timestamp"].max()) == "1998-04-22 23:10:38"
    if data.info["items_file"] is not None:
        items = data.items.set_index("item_id")
        assert items.loc["1", "title"] == "Toy Story (1995)"
        assert items.loc["1", "category"] == "Animation, Children's, Comedy"
        assert items["title"].notna().all()
