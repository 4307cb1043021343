"""--cache: runs sharing a folder take turns and reuse a valid archive (issue 13)."""

from __future__ import annotations

import numpy as np

from _helpers import cached_train, ti_train_manifest


def small_manifest(tmp_path, every=25):
    return ti_train_manifest(tmp_path / "m.csv", slice(None, None, every))


def train(corpus, man, out, cache, *extra):
    return cached_train(corpus, man, out, cache, 3, *extra)


def arrays(path):
    with np.load(path) as z:
        return {k: z[k] for k in z.files if k != "header"}


def finish(proc):
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "internal error" not in err
    return err


def test_two_trains_sharing_a_cache_both_succeed_with_identical_models(corpus, tmp_path):
    man, cache = small_manifest(tmp_path), tmp_path / "cache"
    procs = [train(corpus, man, tmp_path / f"m{i}.npz", cache) for i in range(2)]
    for p in procs:
        finish(p)
    a, b = arrays(tmp_path / "m0.npz"), arrays(tmp_path / "m1.npz")
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert len(list(cache.glob("*.ark"))) == 1  # one archive, written once
    assert not [f for f in cache.iterdir() if f.name.startswith(".")]  # no temporary files left


def test_a_valid_cache_is_reused_and_a_changed_front_end_rebuilds(corpus, tmp_path):
    man, cache = small_manifest(tmp_path), tmp_path / "cache"
    finish(train(corpus, man, tmp_path / "a.npz", cache))
    (ark,) = cache.glob("*.ark")
    stamp = {f.name: f.stat().st_mtime_ns for f in cache.iterdir()}
    finish(train(corpus, man, tmp_path / "b.npz", cache))
    assert {f.name: f.stat().st_mtime_ns for f in cache.iterdir()} == stamp  # reused: nothing rewritten
    a, b = arrays(tmp_path / "a.npz"), arrays(tmp_path / "b.npz")
    assert all(np.array_equal(a[k], b[k]) for k in a)
    finish(train(corpus, man, tmp_path / "c.npz", cache, "--preset", "speaker"))
    arks = sorted(cache.glob("*.ark"))
    assert len(arks) == 2 and ark in arks and ark.stat().st_mtime_ns == stamp[ark.name]
    # a different training set (every other file of the first) gets its own archive too
    rows = man.read_text().splitlines()
    man.write_text("\n".join(rows[:1] + rows[1::2]) + "\n")
    finish(train(corpus, man, tmp_path / "d.npz", cache))
    assert len(list(cache.glob("*.ark"))) == 3


def test_a_damaged_cache_is_rebuilt(corpus, tmp_path):
    man, cache = small_manifest(tmp_path), tmp_path / "cache"
    finish(train(corpus, man, tmp_path / "a.npz", cache))
    (ark,) = cache.glob("*.ark")
    ark.write_bytes(ark.read_bytes()[: ark.stat().st_size // 2])  # cut short (e.g. disk full, copied badly)
    finish(train(corpus, man, tmp_path / "b.npz", cache))
    a, b = arrays(tmp_path / "a.npz"), arrays(tmp_path / "b.npz")
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_an_archive_damaged_in_place_is_found_by_its_checksum_and_extracted_again(corpus, tmp_path):
    """QA: the cache check compared only the size and the entry count: zeroed header bytes gave "internal error:
    UnicodeDecodeError", NaN bytes "u00000000: features contain NaN", zeroed matrix bytes a different model."""
    man, cache = small_manifest(tmp_path), tmp_path / "cache"
    finish(train(corpus, man, tmp_path / "a.npz", cache))
    (ark,) = cache.glob("*.ark")
    good = ark.read_bytes()
    for i, (start, damage) in enumerate([(300, bytes(5700)), (200, b"\xff" * 60), (len(good) - 2000, bytes(20))]):
        ark.write_bytes(good[:start] + damage + good[start + len(damage) :])  # the same size
        err = finish(train(corpus, man, tmp_path / f"b{i}.npz", cache))
        assert f"{ark}: the cached features are damaged (its checksum differs" in err, err
        assert ark.read_bytes() == good  # extracted again
        a, b = arrays(tmp_path / "a.npz"), arrays(tmp_path / f"b{i}.npz")
        assert all(np.array_equal(a[k], b[k]) for k in a)
    err = finish(train(corpus, man, tmp_path / "c.npz", cache))
    assert "damaged" not in err  # reused, without a word


def test_runs_with_different_settings_sharing_a_cache_do_not_read_each_others_features(corpus, tmp_path):
    import time

    man, cache = small_manifest(tmp_path), tmp_path / "cache"
    finish(train(corpus, man, tmp_path / "ref.npz", tmp_path / "own", "--iterations", "40"))
    slow = train(corpus, man, tmp_path / "a.npz", cache, "--iterations", "40")  # reads its archive for a while
    t0 = time.time()
    while not list(cache.glob("*.scp")) and time.time() - t0 < 300 and slow.poll() is None:
        time.sleep(0.05)
    other = train(corpus, man, tmp_path / "b.npz", cache, "--preset", "speaker", "--iterations", "1")
    finish(other)
    finish(slow)
    a, ref = arrays(tmp_path / "a.npz"), arrays(tmp_path / "ref.npz")
    assert all(np.array_equal(a[k], ref[k]) for k in ref)


def test_a_new_front_end_revision_is_a_new_cache(monkeypatch):
    """A feature cache made by a front end that computed other features for the same settings must not be
    reused (a change of the computation that keeps every FeatureConfig as it was)."""
    import speechgmm.features as features
    from speechgmm.sources import _cache_key

    from _helpers import ROOT

    paths = [ROOT / "examples" / "male_AH_1A.wav"]
    cfg = features.FeatureConfig.preset("default")
    before = _cache_key(paths, cfg, [], 0)
    assert _cache_key(paths, cfg, [], 0) == before
    monkeypatch.setattr(features, "FRONT_END_REVISION", features.FRONT_END_REVISION + 1)
    assert _cache_key(paths, cfg, [], 0) != before
