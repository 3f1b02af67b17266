"""Recipes, recipe links and exported Keras scripts: a run's settings leave the dashboard and come
back unchanged, and the script trains on its own to the product's accuracy."""

import json
import os
import re
import subprocess
import sys
from urllib.parse import parse_qsl, urlsplit

import pytest
from support import last_json, open_app, texts

from cifar_core.cli.main import main
from cifar_core.config.architectures import ARCHITECTURES, check_hparams
from cifar_core.config.hparams import TRAINING_HPARAMS, check_all
from cifar_core.config.recipes import read_recipe, recipe_from_query, recipe_json, recipe_of, recipe_query
from cifar_core.config.run_config import make_config
from cifar_core.errors import DataError, ParamError
from cifar_core.export.script import export_script

SETTINGS = ("dataset", "arch", "hparams", "training")


def same_settings(a, b):
    return {k: a[k] for k in SETTINGS} == {k: b[k] for k in SETTINGS}


@pytest.mark.slow
def test_train_from_a_recipe_file_and_back_through_a_link(trained_run, tmp_path, capsys):
    store, run_id = trained_run
    path = tmp_path / "recipe.json"
    assert main(["recipe", run_id, "--runs-dir", str(store.root), "-o", str(path)]) == 0
    recipe = json.loads(path.read_text())
    assert recipe == recipe_of(store.config(run_id)) and recipe["training"]["seed"] == 1
    recipe["hparams"] = {"width": 0.5, "dense_units": 64, "dropout": 0.2}
    recipe["training"].update(train_size=300, augment=["flip"], label_smoothing=0.1, tta=True, optimizer="sgd",
                              lr_schedule="cosine", weight_decay=0.001, precision="float32", seed=5)
    path.write_text(json.dumps(recipe))
    runs = tmp_path / "runs"
    capsys.readouterr()
    # A flag given alongside overrides the recipe.
    assert main(["train", "--recipe", str(path), "--epochs", "1", "--runs-dir", str(runs), "--json"]) == 0
    result = last_json(capsys.readouterr().out)
    config = json.loads((runs / result["run_id"] / "config.json").read_text())
    assert result["status"] == "completed"
    assert same_settings(config, {**recipe, "training": {**recipe["training"], "epochs": 1}})
    # The new run's link gives its settings back exactly.
    query = recipe_query(recipe_of(config))
    assert query["h.width"] == "0.5" and query["augment"] == "flip" and query["tta"] == "on"
    again = recipe_from_query(query)
    assert same_settings(make_config(again["dataset"], again["arch"], again["hparams"], **again["training"]), config)
    assert read_recipe(recipe_json(again)) == again == recipe_of(config)


@pytest.mark.parametrize("text, message", [
    ("{'dataset': 'digits'}", "is not JSON"),
    ('{"dataset": "digits", "arch": "seed_cnn", "colour": "blue"}', "Unknown recipe field(s): colour"),
    ('{"dataset": "digits", "arch": "seed_cnn", "training": {"epochs": 0}}', "Epochs must be between 1 and 500"),
    ('{"dataset": "digits", "arch": "seed_cnn", "training": {"lr": 1}}', "Unknown training setting(s): lr"),
    ('{"dataset": "digits", "arch": "resnet"}', "Unknown architecture 'resnet'"),
    ('{"recipe": 7, "dataset": "digits", "arch": "seed_cnn"}', "reads format 1"),
    ('{"dataset": "fashion_mnist", "arch": "seed_cnn"}', "python -m cifar_core download fashion_mnist"),
])
def test_bad_recipe_files_are_refused_with_the_fix(text, message, tmp_path, capsys, offline_cache):
    path = tmp_path / "bad.json"
    path.write_text(text)
    assert main(["train", "--recipe", str(path), "--runs-dir", str(tmp_path / "runs")]) == 1
    err = capsys.readouterr().err
    assert f"error: {path}" in err and message in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_cli_problems_with_recipes(tmp_path, trained_run, capsys):
    store, run_id = trained_run
    assert main(["train", "--recipe", str(tmp_path / "none.json"), "--runs-dir", str(tmp_path)]) == 1
    assert "Cannot read the recipe" in capsys.readouterr().err
    assert main(["train", "--recipe", "x.json", "--preset", "fast", "--runs-dir", str(tmp_path)]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["recipe", run_id, "--runs-dir", str(store.root)]) == 0  # printed
    assert json.loads(capsys.readouterr().out)["arch"] == "seed_cnn"
    script = tmp_path / "run.py"
    assert main(["export-script", run_id, "--runs-dir", str(store.root), "-o", str(script)]) == 2
    assert "reads the official CIFAR-10 archive" in capsys.readouterr().err and not script.exists()


def test_bad_links_say_what_to_fix():
    good = {"dataset": "digits", "arch": "seed_cnn"}
    assert recipe_from_query({**good, "mode": "class"})["training"]["epochs"] == 8  # the defaults fill in
    for params, message in (({"arch": "seed_cnn"}, "lacks dataset"),
                            ({**good, "epochs": "many"}, "Epochs must be between"),
                            ({**good, "learnig_rate": "0.1"}, "Unknown setting(s) in the link: learnig_rate"),
                            ({**good, "h.depth": "3"}, "Unknown seed_cnn parameter(s): depth")):
        with pytest.raises(ParamError, match=re.escape(message)):
            recipe_from_query(params)
    with pytest.raises(DataError, match="not on this machine"):
        recipe_from_query({"dataset": "fashion_mnist", "arch": "seed_cnn"})


def test_a_link_fills_the_train_page_once(trained_run, monkeypatch):
    store, run_id = trained_run
    config = store.config(run_id)
    at = open_app(store.root, monkeypatch, "pages/train.py", query={**recipe_query(recipe_of(config)), "mode": "full"})
    assert "Settings from a shared recipe: Plain CNN" in texts(at)
    assert at.selectbox(key="train_dataset").value == "digits" and at.selectbox(key="train_arch").value == "seed_cnn"
    t = config["training"]
    assert at.number_input(key="train_epochs").value == t["epochs"] == 2
    assert at.number_input(key="train_batch_size").value == t["batch_size"] == 32
    assert at.select_slider(key="train_learning_rate").value == t["learning_rate"] == 2e-3
    assert at.number_input(key="train_seed").value == 1
    assert at.number_input(key="train_seed_cnn_width").value == config["hparams"]["width"]
    assert dict(at.query_params) == {"mode": "full"}  # the recipe left the address; the mode stays
    at.number_input(key="train_epochs").set_value(5).run()
    assert at.number_input(key="train_epochs").value == 5 and "shared recipe" not in texts(at)


def test_a_bad_link_keeps_the_settings_and_says_why(tmp_path, monkeypatch):
    at = open_app(tmp_path, monkeypatch, "pages/train.py",
                  query={"dataset": "digits", "arch": "resnet", "epochs": "3", "mode": "class"})
    assert "The link's settings were not used: Unknown architecture 'resnet'" in texts(at)
    assert at.number_input(key="train_epochs").value == 8 and dict(at.query_params) == {"mode": "class"}


@pytest.mark.slow
def test_the_evaluate_page_shares_the_run(trained_run, monkeypatch):
    store, run_id = trained_run
    at = open_app(store.root, monkeypatch, "pages/evaluate.py")
    links = [c.value for c in at.code if c.value.startswith("/train?")]
    assert links and links[0].startswith("/train?dataset=digits&arch=seed_cnn&h.width=1")
    assert recipe_from_query(dict(parse_qsl(urlsplit(links[0]).query))) == recipe_of(store.config(run_id))
    assert at.download_button(key="evaluate_recipe_download").label == "Recipe (JSON)"
    script = at.download_button(key="evaluate_script_download")  # a digits run: the script reads CIFAR-10
    assert script.proto.disabled and "reads the official CIFAR-10 archive" in script.help


def default_config(arch):
    return {"dataset": "cifar10", "arch": arch, "hparams": check_hparams(arch, {}),
            "training": {**check_all(TRAINING_HPARAMS, {"augment": "flip,shift,rotation,zoom", "tta": True,
                                                        "patience": 2}, "training")}}


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_every_architecture_exports_a_complete_standalone_script(arch):
    text = export_script(default_config(arch), "20261201-120000-x-abcdef")
    assert not re.search(r"^\s*(import|from)\s+(cifar_core|\.)", text, re.M)
    assert "pickle.load(" not in text and "_RestrictedUnpickler" in text
    # Pyflakes' checks through ruff: no undefined name, so nothing of the product is missing.
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", "--select", "F", "--stdin-filename",
                           "script.py", "-"], input=text, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert f"def make_{arch}(" in text and ("vgg16_base" in text) == (arch == "vgg16_transfer")


@pytest.mark.slow
def test_the_exported_script_trains_alone_to_the_products_accuracy(cifar_sample, tmp_path, monkeypatch, capsys):
    from cifar_core.server import inspection
    from cifar_core.server.jobs import JobManager
    monkeypatch.setenv("CIFAR10_PATH", str(cifar_sample))
    manager = JobManager(tmp_path / "runs")
    # The fast preset's network and augmentation: the whitening first layer is set from the data.
    run_id = manager.submit("cifar10", "fast_cnn", {"width": 0.5, "stem": "whiten"}, epochs=3, train_size=1500,
                            learning_rate=4e-3, augment="flip,crop", label_smoothing=0.1, tta=True)
    assert manager.wait(run_id, timeout=300)["status"] == "completed"
    product = inspection.evaluate(manager.store, run_id)["accuracy"]
    script = tmp_path / "alone" / "reproduce.py"
    script.parent.mkdir()
    assert main(["export-script", run_id, "--runs-dir", str(manager.store.root), "-o", str(script)]) == 0
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CIFAR10_PATH")}
    # The product is installed in this environment: the script runs with it made unimportable, so
    # anything it still needed from the product would fail here.
    without_product = ("import runpy, sys; sys.modules['cifar_core'] = None; sys.argv = sys.argv[1:]; "
                       "runpy.run_path(sys.argv[0], run_name='__main__')")
    python = [sys.executable, "-I", "-c", without_product]
    probe = script.with_name("probe.py")
    probe.write_text("import cifar_core\n")
    assert subprocess.run([*python, str(probe)], cwd=script.parent, env=env, capture_output=True).returncode != 0
    out = subprocess.run([*python, str(script), str(cifar_sample)], cwd=script.parent, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = last_json(out.stdout)
    print(f"script {result['test_accuracy']:.4f} vs product {product:.4f}: {result}")
    assert result["epochs"] == 3 and result["n_train"] == 1500 and result["n_test"] == 932
    # Only the batches' order differs, so the two land within a short run's noise: 0.38 for the product
    # and 0.32 for the script (one run each); without the whitening stem and crops, 0.30 to 0.41 for
    # the product over seven runs, 0.32 for the script every time.
    assert abs(result["test_accuracy"] - product) <= 0.12, (result, product)
