"""Saving and loading models (recutils.persistence), for every model of the contract test.

Every model of ``tests/test_contract.py`` (its ``MODELS``, fitted on its small shop) is saved,
loaded and must give *exactly* the same recommendations (items and scores), scores and
similar items: nothing is recomputed in another order on load (torch weights, factors and
sparse matrices come back bit for bit, and a torch model's scoring arrays are stored, not
recomputed), so no tolerance is needed, for the torch models too. Then the ways a saved model
can be wrong: missing, damaged, of a class that may not be loaded, trained on other data.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from recutils.llm import tiny_language_model
from recutils.models import (
    ALS,
    EASE,
    BertHybrid,
    ContentBased,
    LightGCN,
    LLMReranker,
    MostPopular,
    Recommender,
    fit_model,
)
from recutils.persistence import (
    ARRAYS_FILE,
    DESCRIPTION,
    SavedModelError,
    fit_cached,
    load_model,
    save_model,
    training_fingerprint,
)
from tests import test_contract as contract
from tests.test_contract import MODELS, World, fitted

world = contract.world  # the contract's fixture: a small shop, two temporal splits

#: The model of recutils/README.md is the reader's own class: it loads when passed in.
OWN_CLASSES = [MODELS["CoOccurrence (recutils/README.md)"]]
#: The language model scores about 10 users a second: the re-ranker is checked on a few.
FEW_USERS = {"LLMReranker"}

# Settings the contract test does not use but whose state is stored differently: a second
# torch module (the fine-tuned encoder layer), a tuple of tensors (PyG's edge index), a cache
# that is not saved (aggregate="max"), sparse item vectors, BM25 weights, a searched l2.
VARIANTS: dict[str, tuple[Any, set[str]]] = {  # name -> (factory, side data left out)
    "BertHybrid fine-tuned": (
        lambda: BertHybrid(
            factors=4, hidden=8, epochs=1, finetune_top_layer=True, finetune_steps=2, threads=1
        ),
        {"item_vectors"},
    ),
    "LightGCN pyg-edge-index": (
        lambda: LightGCN(factors=8, epochs=1, propagation="pyg-edge-index"),
        set(),
    ),
    "ContentBased max": (lambda: ContentBased(aggregate="max"), set()),
    "ALS bm25": (lambda: ALS(factors=8, iterations=2, weighting="bm25"), set()),
    "EASE auto l2": (lambda: EASE(), set()),
}


def checked_users(name: str, model: Recommender) -> np.ndarray:
    """Every user; for the LLM re-ranker a few with a history and a few without."""
    users = np.arange(model.n_users_)
    if name not in FEW_USERS:
        return users
    new = np.diff(model.train_.indptr) == 0
    return np.concatenate([users[~new][:5], users[new][:2]])


def assert_same_answers(model: Recommender, loaded: Recommender, users: np.ndarray) -> None:
    assert type(loaded) is type(model) and repr(loaded) == repr(model)
    expected, got = model.recommend(users, k=10), loaded.recommend(users, k=10)
    np.testing.assert_array_equal(got.items, expected.items)
    np.testing.assert_array_equal(got.scores, expected.scores)  # NaN in empty slots on both
    np.testing.assert_array_equal(loaded.score(users), model.score(users))
    subset = np.arange(0, model.n_items_, 3)
    np.testing.assert_array_equal(
        loaded.recommend(users, k=5, items=subset).items,
        model.recommend(users, k=5, items=subset).items,
    )
    items = np.arange(min(20, model.n_items_))
    try:
        similar = model.similar_items(items, k=5)
    except NotImplementedError:
        with pytest.raises(NotImplementedError):
            loaded.similar_items(items, k=5)
    else:
        np.testing.assert_array_equal(loaded.similar_items(items, k=5)[0], similar[0])
        np.testing.assert_array_equal(loaded.similar_items(items, k=5)[1], similar[1])


def assert_no_pickle(folder: Path) -> None:
    """Every file is JSON, an .npz that loads without pickle, or safetensors."""
    files = [path for path in folder.rglob("*") if path.is_file()]
    assert files
    for path in files:
        assert path.suffix in {".json", ".npz", ".safetensors"}, path
        if path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                for key in archive.files:
                    assert not archive[key].dtype.hasobject
            with zipfile.ZipFile(path) as archive:  # .npy members only, no pickled member
                assert all(member.endswith(".npy") for member in archive.namelist())


@pytest.fixture(scope="module", params=sorted(MODELS))
def name(request: pytest.FixtureRequest) -> str:
    return request.param


def test_a_loaded_model_gives_the_same_answers(name: str, world: World, tmp_path: Path) -> None:
    model = fitted(name, world)
    folder = save_model(model, tmp_path / "model")
    assert_no_pickle(folder)
    key = training_fingerprint(world.first.train)
    loaded = load_model(folder, trained_on=key, classes=OWN_CLASSES)
    assert_same_answers(model, loaded, checked_users(name, model))
    assert (loaded.n_users_, loaded.n_items_) == (model.n_users_, model.n_items_)


def test_fit_cached_gives_every_model_back(name: str, world: World, tmp_path: Path) -> None:
    # the course's model cache: the second call loads the first call's model (any model of
    # recutils.models; a class of your own is fitted each time: its code is not in the key)
    model = MODELS[name]()
    fit_cached(model, world.first.train, side_data=world.side_first, cache=tmp_path, min_seconds=0)
    again = MODELS[name]()
    fit_cached(again, world.first.train, side_data=world.side_first, cache=tmp_path, min_seconds=0)
    saved = [path for path in tmp_path.iterdir() if not path.name.startswith(".")]
    assert len(saved) == (0 if type(model) in OWN_CLASSES else 1)
    assert_same_answers(model, again, checked_users(name, model))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_settings_with_other_kinds_of_state_round_trip(
    variant: str, world: World, tmp_path: Path
) -> None:
    factory, left_out = VARIANTS[variant]
    side = {key: value for key, value in world.side_first.items() if key not in left_out}
    if variant == "ContentBased max":  # sparse item vectors too
        side["item_vectors"] = sp.csr_matrix(np.maximum(side["item_vectors"], 0.5) - 0.5)
    model = fit_model(factory(), world.first.train, world.first.valid, side_data=side)
    loaded = load_model(save_model(model, tmp_path / "model"))
    assert_same_answers(model, loaded, np.arange(model.n_users_))
    if variant == "BertHybrid fine-tuned":
        assert loaded.top_layer_ is not None and loaded._inputs is None  # transient: not saved
        assert not any(p.requires_grad for p in loaded.top_layer_.parameters())


def test_models_inside_a_model_are_saved_once_each(world: World, tmp_path: Path) -> None:
    model = fitted("Switching", world)
    folder = save_model(model, tmp_path / "switching")
    assert (folder / "cold" / DESCRIPTION).is_file() and (folder / "warm" / DESCRIPTION).is_file()
    loaded = load_model(folder)
    assert type(loaded.cold) is type(model.cold) and type(loaded.warm) is type(model.warm)
    np.testing.assert_array_equal(loaded.warm.item_factors_, model.warm.item_factors_)


def test_an_array_held_twice_is_stored_once_and_comes_back_shared(
    world: World, tmp_path: Path
) -> None:
    model = fitted("MostPopular", world)
    model.alias_ = model.popularity_
    folder = save_model(model, tmp_path / "model")
    with np.load(folder / ARRAYS_FILE, allow_pickle=False) as archive:
        assert sum("popularity_" in key or "alias_" in key for key in archive.files) == 1
    loaded = load_model(folder)
    assert loaded.alias_ is loaded.popularity_


# -- what a model was trained on --------------------------------------------------------------


def test_the_training_fingerprint_is_a_stable_key_of_the_data(world: World) -> None:
    train = world.first.train
    key = training_fingerprint(train)
    assert len(key) == 64 and key == training_fingerprint(train.copy())
    # what the model sees: the same interactions as float64 COO are the same data
    assert training_fingerprint(sp.coo_matrix(train, dtype=np.float64)) == key
    assert training_fingerprint(world.second.train) != key
    changed = train.copy()
    changed.data[0] += 1
    assert training_fingerprint(changed) != key
    vectors = world.side_first["item_vectors"]
    with_side = training_fingerprint(train, item_vectors=vectors)
    assert with_side != key
    assert training_fingerprint(train, item_vectors=vectors.copy()) == with_side
    assert training_fingerprint(train, item_vectors=vectors + 1) != with_side
    texts, sequences = world.side_first["item_texts"], world.side_first["sequences"]
    both = training_fingerprint(train, item_texts=texts, sequences=sequences)
    assert training_fingerprint(train, sequences=sequences, item_texts=texts) == both


def test_the_default_key_is_the_fingerprint_of_the_training_matrix(
    world: World, tmp_path: Path
) -> None:
    model = fitted("ALS", world)
    folder = save_model(model, tmp_path / "als")
    load_model(folder, trained_on=training_fingerprint(world.first.train))
    with pytest.raises(SavedModelError, match="trained on other data"):
        load_model(folder, trained_on=training_fingerprint(world.second.train))


def test_a_model_trained_on_other_data_is_refused(world: World, tmp_path: Path) -> None:
    side = world.side_first
    key = training_fingerprint(world.first.train, item_vectors=side["item_vectors"])
    folder = save_model(fitted("ContentBased", world), tmp_path / "content", trained_on=key)
    assert isinstance(load_model(folder, trained_on=key), ContentBased)
    with pytest.raises(SavedModelError, match=r"trained on other data.*fit it again"):
        load_model(folder, trained_on=training_fingerprint(world.first.train))


# -- refusals ----------------------------------------------------------------------------------


@pytest.fixture()
def saved_als(world: World, tmp_path: Path) -> Path:
    return save_model(fitted("ALS", world), tmp_path / "als")


def test_an_unfitted_or_foreign_model_is_refused_at_save(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="ALS is not fitted: fit it before saving"):
        save_model(ALS(), tmp_path / "als")
    with pytest.raises(TypeError, match="must be a recutils model"):
        save_model("ALS", tmp_path / "als")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="trained_on must be a non-empty str"):
        save_model(MostPopular().fit(sp.eye(3, format="csr")), tmp_path / "m", trained_on="")
    assert not (tmp_path / "als").exists() and not (tmp_path / "m").exists()


def test_a_value_that_needs_pickle_is_refused_and_nothing_is_left(
    world: World, tmp_path: Path, saved_als: Path
) -> None:
    model = fitted("ALS", world)
    model.note_ = object()  # e.g. a library object kept after fit
    with pytest.raises(TypeError, match=r"state\.note_ is a builtins\.object.*cannot store"):
        save_model(model, saved_als)
    with pytest.raises(TypeError, match=r"object array holding \['int', 'str'\]"):
        model.note_ = np.array(["a", 1], dtype=object)
        save_model(model, saved_als)
    # the model saved before is untouched, and no temporary folder is left beside it
    assert isinstance(load_model(saved_als), ALS)
    assert sorted(p.name for p in saved_als.parent.iterdir()) == ["als"]


def test_saving_again_replaces_a_model_but_never_another_folder(
    world: World, tmp_path: Path, saved_als: Path
) -> None:
    save_model(fitted("MostPopular", world), saved_als)
    assert isinstance(load_model(saved_als), MostPopular)
    assert not (saved_als / "module_.safetensors").exists()
    assert sorted(p.name for p in saved_als.parent.iterdir()) == ["als"]
    other = tmp_path / "notes"
    other.mkdir()
    (other / "todo.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="exists and is not a saved model"):
        save_model(fitted("MostPopular", world), other)
    assert (other / "todo.txt").read_text() == "keep me"


def test_a_missing_folder_or_description_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no saved model at .*nowhere.*save_model"):
        load_model(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"is not a saved model: it has no model\.json"):
        load_model(tmp_path)


def test_a_changed_array_fails_its_checksum(saved_als: Path) -> None:
    path = saved_als / ARRAYS_FILE
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    arrays["state.item_factors_"][0, 0] += 1.0
    np.savez(path, **arrays)
    with pytest.raises(SavedModelError, match=r"arrays\.npz does not match its SHA-256"):
        load_model(saved_als)


def test_a_missing_file_is_named(saved_als: Path) -> None:
    (saved_als / ARRAYS_FILE).unlink()
    with pytest.raises(SavedModelError, match=r"arrays\.npz is missing"):
        load_model(saved_als)


def edit_description(folder: Path, change: Any) -> None:
    path = folder / DESCRIPTION
    description = json.loads(path.read_text(encoding="utf-8"))
    change(description)
    path.write_text(json.dumps(description), encoding="utf-8")


def test_only_the_courses_classes_are_built(saved_als: Path, world: World) -> None:
    edit_description(saved_als, lambda d: d.update({"class": "os.system"}))
    with pytest.raises(SavedModelError, match=r"class 'os\.system', which may not be loaded.*ALS"):
        load_model(saved_als)
    # the reader's own model loads only when passed in
    own = save_model(fitted("CoOccurrence (recutils/README.md)", world), saved_als.parent / "own")
    with pytest.raises(SavedModelError, match=r"load_model\(\.\.\., classes=\[YourModel\]\)"):
        load_model(own)
    assert isinstance(load_model(own, classes=OWN_CLASSES), OWN_CLASSES[0])


def test_only_the_listed_value_classes_are_built(saved_als: Path) -> None:
    evil = {"type": "object", "class": "subprocess.Popen", "fields": {"args": "true"}}
    edit_description(saved_als, lambda d: d["state"].update({"n_users_": evil}))
    with pytest.raises(SavedModelError, match=r"'subprocess\.Popen', which may not be loaded"):
        load_model(saved_als)


def test_another_format_or_broken_json_is_refused(saved_als: Path) -> None:
    edit_description(saved_als, lambda d: d.update({"format_version": 99}))
    with pytest.raises(SavedModelError, match=r"format version 99.*save the model again"):
        load_model(saved_als)
    (saved_als / DESCRIPTION).write_text("{not json", encoding="utf-8")
    with pytest.raises(SavedModelError, match=r"model\.json is not valid JSON"):
        load_model(saved_als)


def test_a_description_that_does_not_fit_the_class_is_refused(saved_als: Path) -> None:
    edit_description(saved_als, lambda d: d["params"].update({"no_such_setting": 1}))
    with pytest.raises(SavedModelError, match=r"cannot be rebuilt from its model\.json.*again"):
        load_model(saved_als)


def test_a_model_saved_by_another_recutils_loads_with_a_warning(saved_als: Path) -> None:
    edit_description(saved_als, lambda d: d.update({"recutils_version": "0.0.1"}))
    with pytest.warns(UserWarning, match=r"saved with recutils 0\.0\.1.*check its recommendations"):
        assert isinstance(load_model(saved_als), ALS)


# -- the language model of the re-ranker -------------------------------------------------------


def test_the_language_model_is_found_not_stored(world: World, tmp_path: Path) -> None:
    folder = save_model(fitted("LLMReranker", world), tmp_path / "reranker")
    assert not (folder / "module_.safetensors").exists()  # no language model weights
    assert sum(p.stat().st_size for p in folder.rglob("*")) < 1_000_000
    # a tiny model with another vocabulary cannot be rebuilt from its seed: pass it
    language_model = tiny_language_model(seed=0, vocabulary_texts=["product 1 product 2"])
    model = LLMReranker(MostPopular(), language_model, n_candidates=3)
    model = fit_model(model, world.first.train, side_data=world.side_first)
    folder = save_model(model, tmp_path / "own-llm")
    with pytest.raises(SavedModelError, match=r"pass the same model: load_model\("):
        load_model(folder)
    with pytest.raises(SavedModelError, match="language_model has fingerprint"):
        load_model(folder, language_model=tiny_language_model(seed=1))
    loaded = load_model(folder, language_model=language_model)
    assert loaded.language_model_ is language_model
    assert_same_answers(model, loaded, np.arange(3))


def test_the_folder_can_be_moved(world: World, tmp_path: Path) -> None:
    folder = save_model(fitted("SASRec", world), tmp_path / "a" / "sasrec")
    moved = shutil.move(folder, tmp_path / "b")
    assert_same_answers(fitted("SASRec", world), load_model(moved), np.arange(20))
