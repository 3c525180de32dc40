"""recutils.persistence.fit_cached: a model trained once and loaded after, keyed by its class,
settings, data, code and libraries; damaged entries are refitted with a warning."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recutils.cache import CacheWarning
from recutils.models import ALS, ContentBased, LightGCN, MostPopular, Switching
from recutils.persistence import DESCRIPTION, fit_cached, model_code_version


def toy(seed: int = 0) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    return sp.csr_matrix((rng.random((30, 12)) < 0.3).astype(np.float32))


def entries(folder):
    return sorted(path.name for path in folder.iterdir() if not path.name.startswith("."))


def test_second_fit_loads_the_first_bit_for_bit(tmp_path):
    train = toy()
    first = fit_cached(ALS(factors=4, iterations=2, seed=1), train, cache=tmp_path, min_seconds=0)
    assert len(entries(tmp_path)) == 1
    again = ALS(factors=4, iterations=2, seed=1)
    assert fit_cached(again, train, cache=tmp_path, min_seconds=0) is again  # filled in place
    np.testing.assert_array_equal(again.item_factors_, first.item_factors_)
    np.testing.assert_array_equal(
        again.recommend([0, 1], k=3).items, first.recommend([0, 1], k=3).items
    )
    assert len(entries(tmp_path)) == 1


def test_the_key_follows_settings_data_and_side_data(tmp_path):
    train, vectors = toy(), np.random.default_rng(2).normal(size=(12, 5)).astype(np.float32)
    fit_cached(ALS(factors=4, iterations=2), train, cache=tmp_path, min_seconds=0)
    fit_cached(ALS(factors=5, iterations=2), train, cache=tmp_path, min_seconds=0)  # settings
    fit_cached(ALS(factors=4, iterations=2), toy(1), cache=tmp_path, min_seconds=0)  # data
    fit_cached(
        ContentBased(), train, side_data={"item_vectors": vectors}, cache=tmp_path, min_seconds=0
    )
    fit_cached(
        ContentBased(),
        train,
        side_data={"item_vectors": vectors + 1},
        cache=tmp_path,
        min_seconds=0,
    )
    # side data a model does not use does not change its key
    fit_cached(
        ALS(factors=4, iterations=2), train, side_data={"item_vectors": vectors}, cache=tmp_path
    )
    assert len(entries(tmp_path)) == 5


def test_valid_counts_only_for_models_that_use_it(tmp_path):
    train, valid = toy(), toy(3)
    fit_cached(MostPopular(), train, valid=valid, cache=tmp_path, min_seconds=0)
    fit_cached(MostPopular(), train, cache=tmp_path, min_seconds=0)
    assert len(entries(tmp_path)) == 1
    model = LightGCN(factors=4, epochs=2, batch_size=64, eval_every=1)
    fit_cached(model, train, valid=valid, cache=tmp_path, min_seconds=0)
    fit_cached(
        LightGCN(factors=4, epochs=2, batch_size=64, eval_every=1),
        train,
        cache=tmp_path,
        min_seconds=0,
    )
    assert len(entries(tmp_path)) == 3


def test_nested_models_are_cached(tmp_path):
    train, vectors = toy(), np.random.default_rng(2).normal(size=(12, 5)).astype(np.float32)
    model = fit_cached(
        Switching(ContentBased(), ALS(factors=4, iterations=2), 3),
        train,
        side_data={"item_vectors": vectors},
        cache=tmp_path,
        min_seconds=0,
    )
    again = fit_cached(
        Switching(ContentBased(), ALS(factors=4, iterations=2), 3),
        train,
        side_data={"item_vectors": vectors},
        cache=tmp_path,
        min_seconds=0,
    )
    np.testing.assert_array_equal(model.score([0, 5]), again.score([0, 5]))
    assert len(entries(tmp_path)) == 1


def test_a_damaged_entry_is_refitted_with_a_warning(tmp_path):
    train = toy()
    first = fit_cached(ALS(factors=4, iterations=2), train, cache=tmp_path, min_seconds=0)
    (entry,) = [path for path in tmp_path.iterdir() if not path.name.startswith(".")]
    arrays = entry / "arrays.npz"
    arrays.write_bytes(arrays.read_bytes()[:-10] + b"0123456789")
    with pytest.warns(CacheWarning, match="cannot be used") as caught:
        again = fit_cached(ALS(factors=4, iterations=2), train, cache=tmp_path, min_seconds=0)
    assert Path(caught[0].filename).name == Path(__file__).name  # the caller's line
    np.testing.assert_array_equal(again.item_factors_, first.item_factors_)
    assert (entry / DESCRIPTION).is_file()
    fit_cached(
        ALS(factors=4, iterations=2), train, cache=tmp_path, min_seconds=0
    )  # repaired: no warning


def test_the_code_version_is_a_stable_key():
    assert model_code_version() == model_code_version()
    assert len(model_code_version()) == 64


def test_bad_input(tmp_path):
    with pytest.raises(TypeError, match="recutils Recommender"):
        fit_cached("ALS", toy(), cache=tmp_path, min_seconds=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no interactions"):
        fit_cached(ALS(), sp.csr_matrix((3, 3), dtype=np.float32), cache=tmp_path, min_seconds=0)


def test_quick_fits_are_not_kept(tmp_path):
    fit_cached(MostPopular(), toy(), cache=tmp_path, min_seconds=60.0)
    assert not tmp_path.exists() or entries(tmp_path) == []


def test_data_without_a_fingerprint_is_fitted_not_cached(tmp_path):
    import pandas as pd

    from recutils.models import LastCategoryPopular

    train = toy()
    categories = pd.Series(["a", "b", "c"] * 4)
    model = LastCategoryPopular()
    sequences = [np.array([0, 1])] * 30
    fit_cached(
        model,
        train,
        side_data={"item_categories": categories, "sequences": sequences},
        cache=tmp_path,
        min_seconds=0,
    )
    assert model.recommend([0], k=2).items.shape == (1, 2)
    assert not tmp_path.exists() or entries(tmp_path) == []


def test_fit_and_fit_model_use_the_cache_after_setup(tmp_path, monkeypatch):
    from recutils import environment, persistence
    from recutils.models import fit_model

    monkeypatch.setenv("RECUTILS_CACHE_DIR", str(tmp_path))
    monkeypatch.setitem(environment._state, "model_cache", 1)  # what setup() turns on
    monkeypatch.setattr(persistence, "CACHE_MIN_SECONDS", 0.0)  # keep even the toy's fits
    fit_model(ALS(factors=4, iterations=2), toy())
    assert len(entries(tmp_path / "models")) == 1
    monkeypatch.setenv("RECUTILS_MODEL_CACHE", "0")  # off everywhere
    assert not environment.model_cache_enabled()
    fit_model(ALS(factors=5, iterations=2), toy())
    assert len(entries(tmp_path / "models")) == 1
    monkeypatch.delenv("RECUTILS_MODEL_CACHE")
    monkeypatch.setitem(environment._state, "model_cache", 0)  # scripts and tests: off
    fit_model(ALS(factors=6, iterations=2), toy())
    assert len(entries(tmp_path / "models")) == 1


def test_a_direct_fit_is_loaded_after_setup_and_checked_first(tmp_path, monkeypatch):
    from recutils import environment, persistence

    monkeypatch.setenv("RECUTILS_CACHE_DIR", str(tmp_path))
    monkeypatch.setitem(environment._state, "model_cache", 1)
    monkeypatch.setattr(persistence, "CACHE_MIN_SECONDS", 0.0)
    vectors = np.random.default_rng(0).random((12, 5)).astype(np.float32)
    first = ContentBased().fit(toy(), item_vectors=vectors)
    assert len(entries(tmp_path / "models")) == 1
    calls = []
    monkeypatch.setattr(ContentBased, "_fit", lambda self, *a, **k: calls.append(1))
    again = ContentBased().fit(toy(), item_vectors=vectors)  # loaded: _fit is not called
    assert calls == []
    np.testing.assert_array_equal(again.score([0, 1]), first.score([0, 1]))
    with pytest.raises(TypeError, match="side data it does not use"):  # checked before the cache
        ContentBased().fit(toy(), item_vectors=vectors, sequences=[])
    with pytest.raises(TypeError, match="does not use valid"):
        ALS().fit(toy(), valid=toy(1))
    assert calls == []
    ContentBased().fit_uncached(toy(), item_vectors=vectors)  # always trains
    assert calls == [1]


def test_a_damaged_entry_met_by_fit_warns_at_the_callers_line(tmp_path, monkeypatch):
    # a notebook calls model.fit (through recutils' fit_cached): the warning names its cell
    from recutils import environment, persistence

    monkeypatch.setenv("RECUTILS_CACHE_DIR", str(tmp_path))
    monkeypatch.setitem(environment._state, "model_cache", 1)
    monkeypatch.setattr(persistence, "CACHE_MIN_SECONDS", 0.0)
    ALS(factors=4, iterations=2).fit(toy())
    (entry,) = entries(tmp_path / "models")
    (tmp_path / "models" / entry / "arrays.npz").write_bytes(b"not an npz file")
    with pytest.warns(CacheWarning, match="cannot be used") as caught:
        ALS(factors=4, iterations=2).fit(toy())
    cache_warnings = [record for record in caught if record.category is CacheWarning]
    assert [Path(record.filename).name for record in cache_warnings] == [Path(__file__).name]


class _MyPopular(MostPopular):  # a model of the user's own, outside recutils.models
    pass


def test_models_defined_outside_recutils_are_fitted_not_cached(tmp_path):
    # their code is not in the key: an edited _fit would otherwise load the old fit
    fit_cached(_MyPopular(), toy(), cache=tmp_path, min_seconds=0)
    assert not tmp_path.exists() or entries(tmp_path) == []
    fit_cached(MostPopular(), toy(), cache=tmp_path, min_seconds=0)
    assert len(entries(tmp_path)) == 1


def test_a_loaded_nested_model_keeps_the_callers_inner_objects(tmp_path):
    vectors = np.random.default_rng(0).random((12, 5)).astype(np.float32)

    def switching():
        cold, warm = ContentBased(), ALS(factors=4, iterations=2, seed=1)
        return cold, warm, Switching(cold, warm, min_interactions=3)

    _, _, first = switching()
    fit_cached(first, toy(), side_data={"item_vectors": vectors}, cache=tmp_path, min_seconds=0)
    cold, warm, again = switching()
    fit_cached(again, toy(), side_data={"item_vectors": vectors}, cache=tmp_path, min_seconds=0)
    assert again.warm is warm and again.cold is cold  # filled in place, as a real fit does
    np.testing.assert_array_equal(warm.item_factors_, first.warm.item_factors_)
    np.testing.assert_array_equal(again.score([0, 1]), first.score([0, 1]))


def test_an_entry_saved_meanwhile_is_kept_not_replaced(tmp_path):
    from recutils.persistence import save_model

    model = ALS(factors=4, iterations=2, seed=1).fit(toy())
    save_model(model, tmp_path / "als")
    before = (tmp_path / "als" / DESCRIPTION).read_bytes()
    with pytest.raises(FileExistsError, match="replace=False"):
        save_model(ALS(factors=4, iterations=2, seed=2).fit(toy()), tmp_path / "als", replace=False)
    assert (tmp_path / "als" / DESCRIPTION).read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["als"]  # no temporary folder left


def test_the_key_follows_torch_threads(tmp_path, monkeypatch):
    from recutils import environment

    monkeypatch.setitem(environment._state, "torch_threads", 1)
    fit_cached(ALS(factors=4, iterations=2, seed=1), toy(), cache=tmp_path, min_seconds=0)
    monkeypatch.setitem(environment._state, "torch_threads", 2)
    fit_cached(ALS(factors=4, iterations=2, seed=1), toy(), cache=tmp_path, min_seconds=0)
    assert len(entries(tmp_path)) == 2


def test_models_that_load_slower_than_they_fit_are_not_kept(tmp_path, monkeypatch):
    from recutils import environment, persistence

    monkeypatch.setenv("RECUTILS_CACHE_DIR", str(tmp_path))
    monkeypatch.setitem(environment._state, "model_cache", 1)
    monkeypatch.setattr(persistence, "CACHE_MIN_SECONDS", 0.0)
    monkeypatch.setattr(ALS, "cache_fits", False)
    ALS(factors=4, iterations=2).fit(toy())
    assert not (tmp_path / "models").exists() or entries(tmp_path / "models") == []


def test_a_model_fitted_by_another_process_while_waiting_is_loaded(tmp_path, monkeypatch):
    from recutils import persistence

    real_made_once = persistence.made_once
    fits: list[int] = []
    locked: list[str] = []
    real_fit = ALS.fit_uncached

    def counting_fit(self, *args, **kwargs):
        fits.append(self.seed)
        return real_fit(self, *args, **kwargs)

    @contextlib.contextmanager
    def another_process_fits_it_meanwhile(folder, name, what, **kwargs):
        # the entry's lock was held by another notebook, which fitted the same model
        locked.append(name)
        assert "ALS" in what
        monkeypatch.setattr(persistence, "made_once", real_made_once)
        fit_cached(ALS(factors=4, iterations=2, seed=1), toy(), cache=tmp_path, min_seconds=0)
        with real_made_once(folder, name, what, **kwargs) as held:
            yield held

    monkeypatch.setattr(ALS, "fit_uncached", counting_fit)
    monkeypatch.setattr(persistence, "made_once", another_process_fits_it_meanwhile)
    waited = fit_cached(ALS(factors=4, iterations=2, seed=1), toy(), cache=tmp_path, min_seconds=0)
    assert fits == [1]  # the other's fit only: this call loaded it after the lock
    assert waited.item_factors_ is not None
    assert len(entries(tmp_path)) == 1
    assert locked == entries(tmp_path)  # the lock is the entry's
