import gzip
import os
import pickle

import numpy as np
import pytest
from support import CLASS_NAMES, cifar_batch, write_cifar

from cifar_core.data import datasets, splits
from cifar_core.data.cifar_archive import read_cifar10
from cifar_core.data.download import download, file_md5
from cifar_core.data.parsed_cache import take_rows
from cifar_core.errors import DataError, ParamError


def test_reads_official_archive_layout(tmp_path):
    path = write_cifar(tmp_path / "c.tar.gz", n=20)
    x_train, y_train, x_test, y_test, names = read_cifar10(path)
    assert x_train.shape == (100, 32, 32, 3) and x_train.dtype == np.uint8
    assert x_test.shape == (20, 32, 32, 3) and names == CLASS_NAMES
    assert y_train.tolist()[:12] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    # Row layout: 1024 red, 1024 green, 1024 blue values, each plane row-major.
    row = cifar_batch(20, 1)[b"data"][0]
    assert x_train[0, 0, 1, 0] == row[1] and x_train[0, 0, 0, 1] == row[1024] and x_train[0, 1, 0, 2] == row[2048 + 32]


def test_reads_extracted_folder(tmp_path):
    write_cifar(tmp_path / "data", n=10, folder=True)
    assert read_cifar10(tmp_path / "data")[0].shape == (50, 32, 32, 3)
    assert read_cifar10(tmp_path / "data" / "cifar-10-batches-py")[2].shape == (10, 32, 32, 3)


def test_real_sample(cifar_sample, monkeypatch):
    monkeypatch.setenv("CIFAR10_PATH", str(cifar_sample))
    ds = datasets.load_dataset("cifar10")
    assert ds.x_train.shape == (4660, 32, 32, 3) and ds.x_test.shape == (932, 32, 32, 3)
    names = [ds.class_names[i] for i in ds.y_test[:8]]
    assert names == ["cat", "ship", "ship", "airplane", "frog", "frog", "automobile", "frog"]
    assert datasets.load_dataset("cifar10") is ds  # parsed once per process
    assert datasets.is_available("cifar10")


class RunsCode:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_crafted_pickle_is_refused_and_runs_no_code(tmp_path):
    marker = tmp_path / "pwned"
    payload = RunsCode()
    payload.marker = marker
    evil = pickle.dumps({b"data": payload, b"labels": [0]}, protocol=2)
    path = write_cifar(tmp_path / "evil.tar.gz", replace={"data_batch_3": evil})
    with pytest.raises(DataError, match="data_batch_3.*refused"):
        read_cifar10(path)
    assert not marker.exists()


def test_object_arrays_are_refused(tmp_path):
    evil = pickle.dumps({b"data": np.array([object()], dtype=object), b"labels": [0]}, protocol=2)
    with pytest.raises(DataError, match="refused"):
        read_cifar10(write_cifar(tmp_path / "o.tar.gz", replace={"test_batch": evil}))


def test_truncated_archive(tmp_path):
    path = write_cifar(tmp_path / "c.tar.gz")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"c\.tar\.gz is truncated.*CIFAR10_PATH"):
        read_cifar10(path)


def test_random_bytes_named_tar_gz(tmp_path):
    path = tmp_path / "cifar-10-python.tar.gz"
    path.write_bytes(os.urandom(5000))
    with pytest.raises(DataError, match="not a tar.gz"):
        read_cifar10(path)


def test_missing_batch_in_folder_and_archive(tmp_path):
    write_cifar(tmp_path / "f", folder=True, skip=("data_batch_4",))
    with pytest.raises(DataError, match="lacks data_batch_4"):
        read_cifar10(tmp_path / "f")
    with pytest.raises(DataError, match="lacks test_batch"):
        read_cifar10(write_cifar(tmp_path / "a.tar.gz", skip=("test_batch",)))


def test_corrupt_batch_contents(tmp_path):
    bad = pickle.dumps({b"data": np.zeros((3, 10), np.uint8), b"labels": [0, 1, 2]}, protocol=2)
    with pytest.raises(DataError, match="does not hold CIFAR-10 images"):
        read_cifar10(write_cifar(tmp_path / "b.tar.gz", replace={"data_batch_1": bad}))


def test_cifar10_path_that_does_not_exist(monkeypatch, tmp_path):
    monkeypatch.setenv("CIFAR10_PATH", str(tmp_path / "nowhere.tar.gz"))
    with pytest.raises(DataError, match="CIFAR10_PATH points at .*nowhere"):
        datasets.load_dataset("cifar10")


def test_keras_cache_is_second_source(offline_cache):
    assert not datasets.is_available("cifar10")
    offline_cache.mkdir(parents=True)
    write_cifar(offline_cache / "cifar-10-python.tar.gz", n=10)
    assert datasets.is_available("cifar10")
    assert datasets.load_dataset("cifar10").x_train.shape == (50, 32, 32, 3)


def test_no_network_gives_offline_advice(offline_cache):
    with pytest.raises(DataError, match="Cannot download .*digits"):
        datasets.load_dataset("cifar10")
    with pytest.raises(DataError, match="Cannot download"):
        datasets.load_dataset("fashion_mnist")
    assert not [p for p in offline_cache.rglob("*") if p.is_file()]  # no file that looks downloaded
    assert datasets.load_dataset("digits").x_train.shape[1:] == (8, 8, 1)  # still works offline


def test_checksum_mismatch_leaves_nothing(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(b"not the archive")
    dest = tmp_path / "cache" / "cifar-10-python.tar.gz"
    seen = []
    with pytest.raises(DataError, match="corrupt.*md5"):
        download(source.as_uri(), dest, "c58f30108f718f92721af3b95e74349a", lambda d, t: seen.append(d))
    assert not dest.exists() and not list(dest.parent.glob("*"))
    assert seen[-1] == len(b"not the archive")
    assert download(source.as_uri(), dest, file_md5(source)) == dest and dest.read_bytes() == source.read_bytes()


def _write_idx(path, array):
    header = (0x0800 + array.ndim).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_from_idx_files(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 60), ("t10k", 20)):
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    monkeypatch.setenv("FASHION_MNIST_PATH", str(tmp_path))
    ds = datasets.load_dataset("fashion_mnist")
    assert ds.x_train.shape == (60, 28, 28, 1) and ds.x_test.shape == (20, 28, 28, 1)
    assert ds.class_names[9] == "Ankle boot" and datasets.is_available("fashion_mnist")
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"garbage")
    monkeypatch.setenv("FASHION_MNIST_PATH", str(tmp_path) + "/")  # a new cache key
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz is corrupt"):
        datasets.load_dataset("fashion_mnist")


def test_digits_is_always_available():
    ds = datasets.load_dataset("digits")
    assert ds.x_train.dtype == np.uint8 and ds.x_train.max() == 255
    assert len(ds.x_train) + len(ds.x_test) == 1797 and datasets.is_available("digits")


def test_split_is_stratified_seeded_and_index_based():
    ds = datasets.load_dataset("digits")
    split = splits.split_dataset(ds, 0.3, 777)
    again = splits.split_dataset(ds, 0.3, 777)
    assert np.array_equal(split.train, again.train) and not set(split.train) & set(split.val)
    assert len(split.train) + len(split.val) == len(ds.y_train)
    counts = np.bincount(ds.y_train[split.val], minlength=10) / len(split.val)
    assert np.allclose(counts, np.bincount(ds.y_train, minlength=10) / len(ds.y_train), atol=0.01)
    small = splits.split_dataset(ds, 0.3, 777, train_size=100)
    assert len(small.train) == 100 and np.array_equal(small.val, split.val)
    assert set(np.bincount(ds.y_train[small.train])) <= {9, 10, 11}


@pytest.mark.parametrize("kwargs, message", [
    ({"val_split": 0.0}, "Validation share must be between 0.05 and 0.9"),
    ({"train_size": 0}, "Training images must be between 1 and"),
    ({"train_size": 10**6}, "Training images must be between 1 and"),
])
def test_split_refuses_out_of_range(kwargs, message):
    with pytest.raises(ParamError, match=message):
        splits.split_dataset(datasets.load_dataset("digits"), **kwargs)


def test_channel_stats_match_numpy():
    images = np.random.default_rng(0).integers(0, 256, (1000, 4, 4, 3), dtype=np.uint8)
    mean, std = splits.channel_stats(images, chunk=300)
    assert np.allclose(mean, images.reshape(-1, 3).mean(0)) and np.allclose(std, images.reshape(-1, 3).std(0))


def test_unknown_dataset():
    with pytest.raises(ParamError, match="Unknown dataset 'mnist'. Choose one of: cifar10"):
        datasets.load_dataset("mnist")


def test_parsed_copy_is_memory_mapped_and_follows_the_archive(tmp_path, monkeypatch):
    path = write_cifar(tmp_path / "c.tar.gz", n=10)
    monkeypatch.setenv("CIFAR10_PATH", str(path))
    first = datasets.load_dataset("cifar10")
    assert isinstance(first.x_train, np.memmap) and not first.x_train.flags.writeable
    datasets.forget_dataset("cifar10")
    again = datasets.load_dataset("cifar10")
    assert np.array_equal(again.x_train, first.x_train) and again.class_names == CLASS_NAMES
    write_cifar(tmp_path / "c.tar.gz", n=20)  # the archive changes: it is parsed again
    datasets.forget_dataset("cifar10")
    assert datasets.load_dataset("cifar10").x_train.shape == (100, 32, 32, 3)


def test_parsed_copy_equals_the_archive_whatever_its_member_order(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    # The official archive holds data_batch_4 first; the parsed copy keeps batches 1 to 5 in order.
    order = ["data_batch_4", "test_batch", "data_batch_3", "batches.meta", "data_batch_2", "data_batch_5",
             "data_batch_1"]
    path = write_cifar(tmp_path / "c.tar.gz", n=7, order=order)
    monkeypatch.setenv("CIFAR10_PATH", str(path))
    ds = datasets.load_dataset("cifar10")
    expected = read_cifar10(path)
    for got, want in zip((ds.x_train, ds.y_train, ds.x_test, ds.y_test), expected):
        assert got.dtype == want.dtype and np.array_equal(got, want)
    assert ds.class_names == expected[4]
    assert not list((tmp_path / "keras").rglob("*.raw"))  # the part files are gone


def test_a_broken_archive_leaves_no_parsed_copy(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    bad = pickle.dumps({b"data": np.zeros((3, 5), np.uint8), b"labels": [0, 1, 2]}, protocol=2)
    monkeypatch.setenv("CIFAR10_PATH", str(write_cifar(tmp_path / "c.tar.gz", n=5, replace={"data_batch_5": bad})))
    with pytest.raises(DataError, match="data_batch_5 does not hold CIFAR-10 images"):
        datasets.load_dataset("cifar10")
    assert not [p for p in (tmp_path / "keras").rglob("*") if p.is_file()]


def test_take_rows_of_a_mapped_dataset(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("CIFAR10_PATH", str(write_cifar(tmp_path / "c.tar.gz", n=40)))
    images = datasets.load_dataset("cifar10").x_train
    plain = np.array(images)
    rng = np.random.default_rng(0)
    for rows in (rng.permutation(200)[:64], np.arange(10, 50), [3, 3, 2, 199], [], np.sort(rng.choice(200, 70))):
        taken = take_rows(images, rows)
        assert not isinstance(taken, np.memmap) and np.array_equal(taken, plain[np.asarray(rows, dtype=int)])
    assert np.array_equal(take_rows(images[5:], [0, 1]), plain[5:7])  # a view: indexed as it is
    with pytest.raises(IndexError):
        take_rows(images, [200])


def test_unwritable_cache_still_loads(tmp_path, monkeypatch):
    blocker = tmp_path / "keras"
    blocker.write_text("a file where the cache folder would be")
    monkeypatch.setenv("KERAS_HOME", str(blocker))
    monkeypatch.setenv("CIFAR10_PATH", str(write_cifar(tmp_path / "c.tar.gz", n=10)))
    assert datasets.load_dataset("cifar10").x_train.shape == (50, 32, 32, 3)


def test_sample_indices_is_seeded_and_distinct():
    pool = np.arange(100, 150)
    first = splits.sample_indices(pool, 20, seed=3)
    assert len(set(first)) == 20 and set(first) <= set(pool)
    assert np.array_equal(first, splits.sample_indices(pool, 20, seed=3))
    assert sorted(splits.sample_indices(pool[:5], 20, seed=3)) == list(pool[:5])
    assert len(splits.sample_indices([], 20, seed=3)) == 0


def test_loading_the_same_dataset_twice_returns_the_same_object():
    assert datasets.load_dataset("digits") is datasets.load_dataset("digits")


def test_the_dataset_cache_keeps_a_few(tmp_path, monkeypatch):
    limit = datasets.MAX_CACHED_DATASETS
    for i in range(limit + 2):  # each archive its own cache key
        monkeypatch.setenv("CIFAR10_PATH", str(write_cifar(tmp_path / f"c{i}.tar.gz", n=2)))
        datasets.load_dataset("cifar10")
        assert len(datasets._datasets) <= limit
    newest = datasets.load_dataset("cifar10")
    assert datasets.load_dataset("cifar10") is newest


def test_each_dataset_loads_as_its_info_says(tiny_cifar, tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 30), ("t10k", 10)):
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    monkeypatch.setenv("FASHION_MNIST_PATH", str(tmp_path))
    for name, info in datasets.DATASETS.items():
        ds = datasets.load_dataset(name)
        assert ds.image_shape == info.image_shape and ds.x_test.shape[1:] == info.image_shape, name
        assert ds.num_classes == info.num_classes and set(ds.y_train) <= set(range(info.num_classes)), name
    assert [info.env_var for info in datasets.DATASETS.values()] == ["CIFAR10_PATH", "FASHION_MNIST_PATH", None]


def test_check_available_says_how_to_get_it_and_downloads_nothing(offline_cache, monkeypatch, tmp_path):
    with pytest.raises(DataError, match=r"CIFAR-10 is not on this machine. Run 'python -m cifar_core "
                                        r"download cifar10'.*set CIFAR10_PATH"):
        datasets.check_available("cifar10")
    monkeypatch.setenv("FASHION_MNIST_PATH", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="FASHION_MNIST_PATH points at .*nowhere.*download fashion_mnist"):
        datasets.check_available("fashion_mnist")
    assert datasets.check_available("digits").name == "digits"
    assert not offline_cache.exists()
