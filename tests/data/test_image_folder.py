"""Your own image folder as a dataset: imports, refusals of hostile zips, the registry, the CLI, the Data page.

Every zip is built here with `zipfile`; no binary fixture is committed.
"""

import io
import json
import os
import zipfile

import numpy as np
import pytest
from PIL import Image
from support import ROOT

from cifar_core.cli.main import main
from cifar_core.data import datasets, folder_sets, image_folder
from cifar_core.errors import DataError, ParamError

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 210)}
MODES = ("RGB", "L", "RGBA", "P")


def image_bytes(colour, mode="RGB", fmt="PNG", size=(20, 14)):
    image = Image.new("RGB", size, colour).convert(mode)
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def good_files(per_class=12, root="shapes/"):
    """3 classes of distinct colours, in mixed modes and formats, plus a file that is not an image."""
    files = {}
    for name, colour in COLOURS.items():
        for i in range(per_class):
            mode = MODES[i % len(MODES)]
            fmt = "JPEG" if mode == "RGB" and i % 8 == 0 else "PNG"
            files[f"{root}{name}/{i:02}.{fmt.lower()}"] = image_bytes(colour, mode, fmt)
    files[f"{root}red/notes.txt"] = b"not an image"
    files[f"{root}README.txt"] = b"outside every class folder"
    files[f"{root}.DS_Store"] = b"\0\0"
    files[f"__MACOSX/{root}red/._00.png"] = b"\0\5\0"
    return files


def make_zip(files, infos=()):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        for info, data in infos:
            archive.writestr(info, data)
    return out.getvalue()


def write_folder(root, files):
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def written(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture
def keras(tmp_path, monkeypatch):
    """An empty Keras cache of this test's own: where imported sets are written."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv(folder_sets.FOLDERS_ENV, raising=False)
    monkeypatch.delenv(folder_sets.UPLOADS_ENV, raising=False)
    return tmp_path / "keras"


def test_a_zip_of_class_folders_imports_once(keras, tmp_path):
    data = make_zip(good_files())
    meta = folder_sets.import_upload(data, "shapes.zip")
    name, folder_id = meta["name"], meta["name"].split(":")[1]
    assert folder_sets.is_folder_name(name) and meta["classes"] == ["blue", "green", "red"]
    assert meta["counts"] == [12, 12, 12] and meta["channels"] == 3 and meta["title"] == "shapes (32×32)"
    assert folder_sets.describe_folder_set(meta).endswith("1 file that is not an image was skipped: red/notes.txt. 1 file "
                                               "outside a class folder was skipped: README.txt.")
    assert written(keras) == [f"datasets/cifar_core-uploads/{folder_id}/{f}" for f in
                              ("meta.json", "x_test.npy", "x_train.npy", "y_test.npy", "y_train.npy")]
    ds = datasets.load_dataset(name)
    assert ds.x_train.shape == (29, 32, 32, 3) and ds.x_test.shape == (7, 32, 32, 3)
    assert ds.x_train.dtype == np.uint8 and ds.y_train.dtype == np.int64 and ds.class_names == meta["classes"]
    assert np.bincount(ds.y_test).tolist() == [3, 2, 2]  # stratified: at least one of each class
    for images, labels in ((ds.x_train, ds.y_train), (ds.x_test, ds.y_test)):  # its class's colour, or its grey
        means = np.asarray(images, dtype=float).mean(axis=(1, 2))
        colour = np.array([COLOURS[ds.class_names[y]] for y in labels])
        grey = np.array([Image.new("RGB", (1, 1), COLOURS[ds.class_names[y]]).convert("L").getpixel((0, 0))
                         for y in labels])[:, None]
        assert np.minimum(np.abs(means - colour), np.abs(means - grey)).max() < 12
    # The same images give the same set, from a zip or a folder; another size is another set.
    assert folder_sets.import_upload(data, "again.zip")["name"] == name
    assert folder_sets.import_path(write_folder(tmp_path / "shapes", good_files(root="")))["name"] == name
    other = folder_sets.import_upload(data, "shapes.zip", size=16)
    assert other["name"] != name and datasets.dataset_info(other["name"]).image_shape == (16, 16, 3)
    again = datasets.load_dataset(name)
    assert np.array_equal(again.y_test, ds.y_test) and len(written(keras)) == 10


def test_a_greyscale_set_keeps_one_channel(keras):
    files = {f"{c}/{i}.png": image_bytes(colour, "L") for c, colour in COLOURS.items() for i in range(5)}
    meta = folder_sets.import_upload(make_zip(files), "grey.zip", size=8)
    ds = datasets.load_dataset(meta["name"])
    assert meta["channels"] == 1 and ds.x_train.shape[1:] == (8, 8, 1) and len(ds.y_test) == 3


def blank_png(side):
    return image_bytes((255, 255, 255), "L", size=(side, side))


def with_classes(extra=None, per_class=6):
    files = {f"{c}/{i}.png": image_bytes(colour) for c, colour in list(COLOURS.items())[:2] for i in range(per_class)}
    return {**files, **(extra or {})}


def symlink_entry():
    info = zipfile.ZipInfo("red/link.png")
    info.external_attr = 0o120777 << 16
    return info, "/etc/passwd"


@pytest.mark.parametrize("files, infos, limits, message", [
    ({f"cats/{i}.png": image_bytes((1, 2, 3)) for i in range(6)}, (), {},
     "holds 1 class folder (cats); a dataset needs at least 2"),
    (with_classes({f"dogs/{i}.png": image_bytes((9, 9, 9)) for i in range(3)}), (), {},
     "Class 'dogs' of upload.zip has only 3 images; every class needs at least 5"),
    (with_classes(), (), {"MAX_IMAGES": 10}, "holds more than 10 images, the limit"),
    (with_classes(), (), {"MAX_TOTAL_BYTES": 500}, "holds more than 0.0005 MB of files once unpacked"),
    (with_classes({"red/bomb.png": blank_png(3000)}), (), {"MAX_PIXELS": 1_000_000},
     "red/bomb.png in upload.zip is 3000×3000 pixels, over the limit of 1,000,000 pixels"),
    (with_classes({"red/zeros.bmp": bytes(300_000)}), (), {"RATIO_FLOOR": 1000}, "(a zip bomb)"),
    (with_classes({"../evil.png": image_bytes((1, 1, 1))}), (), {}, "unsafe path (../evil.png)"),
    (with_classes({"/abs.png": image_bytes((1, 1, 1))}), (), {}, "unsafe path (/abs.png)"),
    (with_classes({"red/../../evil.png": image_bytes((1, 1, 1))}), (), {}, "unsafe path"),
    (with_classes(), (symlink_entry(),), {}, "holds a symbolic link (red/link.png)"),
    (with_classes({"red/inner.zip": make_zip(with_classes())}), (), {}, "holds another archive (red/inner.zip)"),
    (with_classes({"red/inner.png": make_zip(with_classes())}), (), {}, "holds another archive (red/inner.png)"),
])
def test_hostile_zips_are_refused_and_write_nothing(files, infos, limits, message, keras, monkeypatch):
    for constant, value in limits.items():
        monkeypatch.setattr(image_folder, constant, value)
    with pytest.raises(DataError) as refused:
        folder_sets.import_upload(make_zip(files, infos), "upload.zip")
    assert message in str(refused.value)
    assert written(keras) == [] and datasets.dataset_names() == list(datasets.DATASETS)


def test_what_is_not_a_zip_or_not_allowed_is_refused(keras, monkeypatch):
    with pytest.raises(DataError, match="upload.zip is not a zip file that can be read"):
        folder_sets.import_upload(b"hello", "upload.zip")
    with pytest.raises(ParamError, match="Image size must be between 8 and 64 pixels, got 500"):
        folder_sets.import_upload(make_zip(with_classes()), "upload.zip", size=500)
    monkeypatch.setenv(folder_sets.UPLOADS_ENV, "off")
    with pytest.raises(DataError, match="This server takes no uploads"):
        folder_sets.import_upload(make_zip(with_classes()), "upload.zip")
    assert written(keras) == []


def test_links_in_a_folder_are_refused(keras, tmp_path):
    root = write_folder(tmp_path / "pets", with_classes())
    (root / "red" / "link.png").symlink_to(root / "red" / "0.png")
    with pytest.raises(DataError, match=r"symbolic link \(red/link.png\)"):
        folder_sets.import_path(root)
    (root / "red" / "link.png").unlink()
    (root / "more").symlink_to(root / "red", target_is_directory=True)
    with pytest.raises(DataError, match=r"symbolic link \(more\)"):
        folder_sets.import_path(root)
    assert written(keras) == []


def test_a_failed_write_leaves_no_folder(keras, monkeypatch):
    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(folder_sets.np, "save", full_disk)
    with pytest.raises(DataError, match="No space left on device"):
        folder_sets.import_upload(make_zip(with_classes()), "upload.zip")
    assert written(keras) == [] and not list((keras / "datasets" / "cifar_core-uploads").iterdir())


def test_the_registry_and_the_servers_own_folders(keras, tmp_path, monkeypatch):
    good = write_folder(tmp_path / "colours", with_classes())
    monkeypatch.setenv(folder_sets.FOLDERS_ENV, os.pathsep.join([str(good), str(tmp_path / "absent")]))
    assert datasets.dataset_names() == list(datasets.DATASETS)  # a query imports nothing
    folder_sets.import_configured_folders()
    names = datasets.dataset_names()
    assert names[:3] == list(datasets.DATASETS) and len(names) == 4
    info = datasets.check_available(names[3])
    assert info.title == "colours (32×32)" and info.num_classes == 2 and "12 colour images" in info.description
    errors = [error for _, _, error in folder_sets.configured_folders() if error]
    assert len(errors) == 1 and "absent does not exist" in errors[0]
    missing = "folder:0123456789abcdef"
    assert not datasets.is_available(missing) and datasets.dataset_info(missing).title == missing
    with pytest.raises(DataError, match="is an image folder that is not on this machine"):
        datasets.check_available(missing)
    with pytest.raises(ParamError, match="Unknown dataset 'folder:nope'"):
        datasets.dataset_info("folder:nope")


@pytest.mark.slow
def test_the_command_line_refuses_with_its_exit_codes(keras, tmp_path, capsys):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(make_zip(with_classes({"../evil.png": b"x"})))
    cases = [(["--dataset", f"folder:{tmp_path / 'absent'}"], 1, "absent does not exist"),
             (["--dataset", f"folder:{bad}"], 1, "error: bad.zip holds an entry with an unsafe path"),
             (["--dataset", f"folder:{bad}", "--image-size", "500"], 2, "Image size must be between 8 and 64"),
             (["--dataset", "digits", "--image-size", "16"], 2, "--image-size applies only to --dataset folder:PATH")]
    for argv, code, message in cases:
        assert main(["train", *argv, "--runs-dir", str(tmp_path / "runs")]) == code
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err
    assert not (tmp_path / "runs").exists() and written(keras) == []


@pytest.mark.slow
def test_the_command_line_trains_and_evaluates_a_folder(keras, tmp_path, capsys):
    folder = write_folder(tmp_path / "shapes", good_files(root=""))
    runs = str(tmp_path / "runs")

    def cli(*argv):
        code = main([*argv, "--runs-dir", runs, "--json"])
        out, err = capsys.readouterr()
        assert code == 0, err[-3000:]
        return err, json.loads(out.strip().splitlines()[-1])

    err, run = cli("train", "--dataset", f"folder:{folder}", "--arch", "small_cnn", "--epochs", "1",
                   "--batch-size", "16")
    assert run["status"] == "completed" and "3 classes (blue 12, green 12, red 12)" in err
    config = json.loads((tmp_path / "runs" / run["run_id"] / "config.json").read_text())
    assert folder_sets.is_folder_name(config["dataset"]) and config["image_shape"] == [32, 32, 3]
    assert config["class_names"] == ["blue", "green", "red"] and config["n_train"] + config["n_val"] == 29
    _, evaluation = cli("evaluate", run["run_id"])
    assert evaluation["class_names"] == ["blue", "green", "red"] and sum(map(sum, evaluation["confusion_matrix"])) == 7
    assert main(["datasets"]) == 0
    assert f"{config['dataset']} available       shapes (32×32)" in capsys.readouterr().out


@pytest.mark.slow
def test_the_data_page_imports_an_upload(keras, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from cifar_core.server import cluster
    monkeypatch.setattr(cluster, "start_in_background", lambda: None)  # no workers: this page needs none
    monkeypatch.setenv("CIFAR_CORE_RUNS", str(tmp_path / "runs"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page("pages/data.py").run()
    at.file_uploader(key="data_upload").upload("shapes.zip", make_zip(good_files()), "application/zip").run()
    assert not at.exception, [e.value for e in at.exception]
    name = datasets.dataset_names()[-1]
    text = " ".join(str(e.value) for kind in ("markdown", "success", "error") for e in getattr(at, kind))
    assert at.selectbox(key="data_dataset").value == name and "Imported **shapes (32×32)**" in text
    assert "Ready: 29 training and 7 test images of 32×32×3, from shapes.zip" in text
    assert "1 file that is not an image was skipped: red/notes.txt" in text
    at.file_uploader(key="data_upload").set_value(("evil.zip", make_zip(with_classes({"../x.png": b"x"})),
                                                   "application/zip")).run()
    assert not at.exception and at.selectbox(key="data_dataset").value == name
    assert "unsafe path (../x.png)" in " ".join(str(e.value) for e in at.error)
    monkeypatch.setenv(folder_sets.UPLOADS_ENV, "off")
    at.run()
    assert not at.exception and not at.file_uploader and "takes no uploads" in " ".join(str(e.value) for e in at.info)
    at.switch_page("pages/home.py").run()  # the other pages list it: Home counts it as ready
    assert not at.exception and "shapes (32×32)" in at.metric[0].proto.help
