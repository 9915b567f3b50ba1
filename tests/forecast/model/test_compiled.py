"""The compile cache: nutpie's callbacks and the model's rewritten functions (its
snapshot) loaded across processes, keyed, never trusted blindly; and the cacheable
``erfcx`` it needs."""

from __future__ import annotations

import ctypes
import logging
from pathlib import Path

import numpy as np
import pymc as pm
import pytest
import scipy.special

from forecast.model import compiled, snapshot
from forecast.model.numba_ops import ASYMPTOTIC_FROM, erfcx


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """A cache directory of this module's own, empty at its first test (the tests below
    run in order: each compiles the graphs the one before left in it only once)."""
    import pytensor.link.numba.cache as numba_cache

    path = tmp_path_factory.mktemp("compile-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(numba_cache, "NUMBA_CACHE_PATH", path)
        patch.setattr(snapshot, "directory", lambda: path / "snapshots")
        yield path


@pytest.fixture(autouse=True)
def new_process():
    """Each test compiles as a new process does, from the disk caches alone (a process
    keeps what it has read: ``compiled.forget_read``)."""
    compiled.forget_read()
    yield
    compiled.forget_read()


X = (0.5, -1.0, 2.0)


def small_model(prior_sd: float = 1.0, x: tuple[float, ...] = X) -> pm.Model:
    """A model with data, a normal log-CDF (hence ``erfcx``) and a positive parameter."""
    with pm.Model() as model:
        x = pm.Data("x", np.array(x))
        censored = pm.Data("censored", (np.arange(len(x.get_value())) % 2 == 0).astype(float))
        mu = pm.Normal("mu", 0.0, prior_sd)
        sigma = pm.HalfNormal("sigma", 1.0)
        pm.Normal("y", mu, sigma, observed=x)
        pm.Potential("tail", (censored * pm.logcdf(pm.Normal.dist(mu, sigma), -x - 3.0)).sum())
    return model


def logp_and_grad(model, point: np.ndarray) -> tuple[float, np.ndarray]:
    """The compiled log-density and gradient at ``point`` through nutpie's C callback."""
    grad, logp = np.zeros(model.n_dim), np.zeros(())
    pointer = ctypes.POINTER(ctypes.c_double)
    status = model.compiled_logp_func.ctypes(
        model.n_dim,
        point.ctypes.data_as(pointer),
        grad.ctypes.data_as(pointer),
        logp.ctypes.data_as(pointer),
        model.user_data.ctypes.data,
    )
    assert status == 0
    return float(logp), grad


def test_erfcx_matches_scipy_across_both_branches():
    xs = np.concatenate([np.linspace(-26.0, 40.0, 4001), np.geomspace(ASYMPTOTIC_FROM, 1e9, 200)])
    ours = np.array([erfcx(float(x)) for x in xs])
    np.testing.assert_allclose(ours, scipy.special.erfcx(xs), rtol=1e-12)


def test_the_model_graph_is_cacheable_with_erfcx_registered():
    """Without the registration, the graph holding ``erfcx`` has no cache key."""
    import pytensor
    import pytensor.tensor as pt
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS

    x = pt.dscalar("x")
    fn = pytensor.function([x], pt.erfcx(x), mode="NUMBA")
    assert CACHED_SRC_FUNCTIONS.get(fn.vm.jit_fn.py_func) is not None
    assert fn(30.0) == pytest.approx(scipy.special.erfcx(30.0), rel=1e-13)


def test_second_compile_loads_and_agrees_with_nutpie(cache_dir, caplog):
    import nutpie

    caplog.set_level(logging.INFO, logger=compiled.__name__)
    first = compiled.compile_for_nutpie(small_model())
    assert caplog.text.count("compiled and stored") == 2
    assert len(list(cache_dir.iterdir())) >= 4  # index and data of both callbacks
    caplog.clear()
    compiled.forget_read()  # as a second process
    second = compiled.compile_for_nutpie(small_model())
    assert caplog.text.count("compile cache: loaded") == 2
    reference = nutpie.compile_pymc_model(small_model(), freeze_model=False)

    point = np.array([0.3, -0.2])
    expected = logp_and_grad(reference, point)
    for model in (first, second):
        logp, grad = logp_and_grad(model, point)
        assert logp == pytest.approx(expected[0], rel=1e-12)
        np.testing.assert_allclose(grad, expected[1], rtol=1e-12)
    # New data reach the loaded callback.
    moved = second.with_data(x=np.array([5.0, 6.0, 7.0]))
    moved_reference = reference.with_data(x=np.array([5.0, 6.0, 7.0]))
    assert logp_and_grad(moved, point)[0] == pytest.approx(
        logp_and_grad(moved_reference, point)[0], rel=1e-12
    )
    assert logp_and_grad(moved, point)[0] != pytest.approx(expected[0], rel=1e-3)


def test_another_model_gets_another_entry(cache_dir, caplog):
    caplog.set_level(logging.INFO, logger=compiled.__name__)
    files = set(cache_dir.iterdir())
    compiled.compile_for_nutpie(small_model(prior_sd=2.0))
    # The log-density changed; the expansion of a draw did not, and is shared.
    assert caplog.text.count("compiled and stored") == 1
    assert caplog.text.count("compile cache: loaded") == 1
    assert set(cache_dir.iterdir()) > files


def test_a_library_version_or_callback_change_changes_the_key(monkeypatch):
    user_data = np.zeros((), dtype=[("shared", [("data", [("x", np.uintp)])])])
    key = compiled.callback_key("source", "graph", ["float64"], user_data)
    assert compiled.callback_key("source", "graph", ["float64"], user_data) == key
    assert compiled.callback_key("source", "other graph", ["float64"], user_data) != key
    monkeypatch.setattr(compiled, "CALLBACK_VERSION", compiled.CALLBACK_VERSION + 1)
    assert compiled.callback_key("source", "graph", ["float64"], user_data) != key
    monkeypatch.undo()
    real_version = compiled.metadata.version
    monkeypatch.setattr(
        compiled.metadata,
        "version",
        lambda name: "0.0" if name == "numba" else real_version(name),
    )
    assert compiled.callback_key("source", "graph", ["float64"], user_data) != key


def test_a_corrupt_entry_is_discarded_and_rebuilt(cache_dir, caplog):
    data_files = [p for p in cache_dir.iterdir() if p.suffix == ".nbc"]
    assert data_files
    for path in data_files:
        path.write_bytes(b"not a numba cache entry")
    caplog.set_level(logging.INFO, logger=compiled.__name__)
    model = compiled.compile_for_nutpie(small_model())
    assert "could not be loaded" in caplog.text
    assert caplog.text.count("compiled and stored") == 2
    reference = compiled.compile_for_nutpie(small_model())  # the rebuilt entry loads
    point = np.array([0.1, 0.4])
    assert logp_and_grad(model, point)[0] == pytest.approx(
        logp_and_grad(reference, point)[0], rel=1e-12
    )


def test_a_second_process_loads_the_model_s_snapshot_and_samples_the_same_draws(cache_dir, caplog):
    import nutpie

    caplog.set_level(logging.INFO, logger=snapshot.__name__)
    first = compiled.compile_for_nutpie(small_model(prior_sd=3.0))
    assert "compile snapshot: stored" in caplog.text
    caplog.clear()
    second = compiled.compile_for_nutpie(small_model(prior_sd=3.0))
    assert "compile snapshot: loaded" in caplog.text
    point = np.array([0.2, -0.7])
    expected = logp_and_grad(first, point)
    logp, grad = logp_and_grad(second, point)
    assert logp == pytest.approx(expected[0], rel=1e-12)
    np.testing.assert_allclose(grad, expected[1], rtol=1e-12)
    # The seeded, jittered start of each chain, and so the draws, are the same.
    for seed in (0, 1, 7):
        np.testing.assert_array_equal(
            first.initial_point_func(seed), second.initial_point_func(seed)
        )
    assert not np.array_equal(second.initial_point_func(0), second.initial_point_func(1))
    settings = {"draws": 50, "tune": 50, "chains": 2, "seed": 3, "progress_bar": False}
    draws = [nutpie.sample(m, **settings).posterior["mu"].values for m in (first, second)]
    np.testing.assert_array_equal(*draws)


def test_a_loaded_snapshot_computes_on_the_new_model_s_data(cache_dir):
    import nutpie

    compiled.compile_for_nutpie(small_model(prior_sd=4.0))  # stored with X
    moved = (5.0, 6.0, -7.0)
    loaded = compiled.compile_for_nutpie(small_model(prior_sd=4.0, x=moved))
    reference = nutpie.compile_pymc_model(small_model(prior_sd=4.0, x=moved), freeze_model=False)
    point = np.array([0.3, 0.1])
    assert logp_and_grad(loaded, point)[0] == pytest.approx(
        logp_and_grad(reference, point)[0], rel=1e-12
    )


def test_the_snapshot_key_follows_the_model_its_data_shapes_and_the_libraries(monkeypatch):
    key = snapshot.model_key(small_model())
    assert snapshot.model_key(small_model()) == key  # the same model, built again
    assert snapshot.model_key(small_model(x=(1.0, 2.0, 3.0))) == key  # other values
    assert snapshot.model_key(small_model(x=(1.0, 2.0))) != key  # another shape
    assert snapshot.model_key(small_model(prior_sd=2.0)) != key  # another prior
    real_version = snapshot.metadata.version
    monkeypatch.setattr(
        snapshot.metadata,
        "version",
        lambda name: "0.0" if name == "pytensor" else real_version(name),
    )
    assert snapshot.model_key(small_model()) != key


def test_a_corrupt_snapshot_is_discarded_and_rebuilt(cache_dir, caplog):
    model = small_model(prior_sd=5.0)
    compiled.compile_for_nutpie(model)
    path = snapshot.directory() / f"{snapshot.model_key(model)}.pkl"
    path.write_bytes(path.read_bytes()[:1000])  # truncated
    caplog.set_level(logging.INFO, logger=snapshot.__name__)
    rebuilt = compiled.compile_for_nutpie(small_model(prior_sd=5.0))
    assert "could not be loaded" in caplog.text
    assert "compile snapshot: stored" in caplog.text
    assert path.stat().st_size > 1000
    reference = compiled.compile_for_nutpie(small_model(prior_sd=5.0))  # loads the new one
    point = np.array([-0.4, 0.2])
    assert logp_and_grad(rebuilt, point)[0] == pytest.approx(
        logp_and_grad(reference, point)[0], rel=1e-12
    )


class _Planted:
    """Unpickling it runs code: it writes a marker file."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "ran"))


def test_a_snapshot_is_never_unpickled_from_a_folder_others_can_write(
    tmp_path, monkeypatch, caplog
):
    """A pickle planted in a folder writable by others, or a pickle writable by others in
    a private folder, is not loaded: its code does not run, and the model compiles as if
    there were none. The folder is created private."""
    import pickle

    folder = tmp_path / "snapshots"
    monkeypatch.setattr(snapshot, "directory", lambda: folder)
    monkeypatch.setattr(snapshot, "_UNSAFE", set())
    model = small_model(prior_sd=3.0)
    key = snapshot.model_key(model)
    assert not snapshot.stored(key)
    assert snapshot._safe_folder() == folder
    assert folder.stat().st_mode & 0o777 == 0o700  # created private
    marker = tmp_path / "ran.txt"
    (folder / f"{key}.pkl").write_bytes(pickle.dumps(_Planted(str(marker))))
    (folder / f"{key}.pkl").chmod(0o666)
    caplog.set_level(logging.WARNING, logger=snapshot.__name__)
    assert snapshot.load(model, key) is None and not snapshot.stored(key)
    assert "writable by others" in caplog.text
    (folder / f"{key}.pkl").chmod(0o600)
    folder.chmod(0o777)
    assert snapshot.load(model, key) is None and not snapshot.stored(key)
    assert "is not private to this user" in caplog.text
    assert not marker.exists()
    # Nor is one written there.
    before = sorted(folder.iterdir())
    snapshot.save("another", snapshot.Functions(1, 1, None, None, None, (["mu"],)), _initial())
    assert sorted(folder.iterdir()) == before
    # Private again: the planted entry is read, and its code runs (this is what the
    # check guards against).
    folder.chmod(0o700)
    snapshot.load(model, key)
    assert marker.exists()


def _initial() -> snapshot.InitialValues:
    return snapshot.InitialValues(function=None, names=["mu"])


def test_a_failed_save_leaves_no_partial_file(tmp_path, monkeypatch):
    folder = tmp_path / "snapshots"
    monkeypatch.setattr(snapshot, "directory", lambda: folder)
    unpicklable = snapshot.Functions(1, 1, lambda: None, None, None, (["mu"],))
    with pytest.raises(Exception):  # noqa: B017 - pickle raises several kinds
        snapshot.save("key", unpicklable, _initial())
    assert list(folder.iterdir()) == []


def test_the_snapshot_key_follows_pytensor_settings_and_initial_values(monkeypatch):
    key = snapshot.model_key(small_model())
    assert "o4" in snapshot._compile_settings()  # PyTensor's optimizer, read
    settings = snapshot._compile_settings()
    monkeypatch.setattr(snapshot, "_compile_settings", lambda: (*settings[:-1], "float32"))
    assert snapshot.model_key(small_model()) != key
    monkeypatch.undo()
    with small_model() as model:
        model.set_initval(model["mu"], 0.5)
    assert snapshot.model_key(model) != key
    assert snapshot.model_key(small_model()) == key


def test_a_snapshot_read_once_serves_every_model_of_its_structure_each_on_its_own_data(
    cache_dir, caplog
):
    import nutpie

    compiled.compile_for_nutpie(small_model(prior_sd=6.0))  # compiled and stored
    first_x, second_x = (1.0, 2.0, 3.0), (-4.0, 0.5, 9.0)
    first = compiled.compile_for_nutpie(small_model(prior_sd=6.0, x=first_x))  # read
    caplog.set_level(logging.INFO, logger=compiled.__name__)
    second = compiled.compile_for_nutpie(small_model(prior_sd=6.0, x=second_x))
    assert "reused (read earlier in this process)" in caplog.text
    assert second.logp_func is first.logp_func  # one copy of the functions
    assert second.compiled_logp_func is first.compiled_logp_func  # and of the callbacks
    point = np.array([0.3, -0.2])
    for model, x in ((first, first_x), (second, second_x)):
        reference = nutpie.compile_pymc_model(small_model(prior_sd=6.0, x=x), freeze_model=False)
        assert logp_and_grad(model, point)[0] == pytest.approx(
            logp_and_grad(reference, point)[0], rel=1e-12
        )
