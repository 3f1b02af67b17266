"""Presets are named recipes, and one function gives a recipe's or a preset's settings to a run with
what overrides them: the command line's flags, the Train page's form, `prepare`."""


import pytest
from support import last_json, seed_timings

from cifar_core.cli.main import main
from cifar_core.config.architectures import check_hparams, get_architecture
from cifar_core.config.hparams import TRAINING, TRAINING_HPARAMS, check_all
from cifar_core.config.presets import PRESETS, get_preset
from cifar_core.config.recipes import (
    default_value,
    recipe_from_query,
    recipe_json,
    recipe_of,
    recipe_query,
    recipe_settings,
)
from cifar_core.config.run_config import make_config
from cifar_core.errors import ParamError
from cifar_core.runs.store import RunStore
from cifar_core.server import estimate
from cifar_core.server.prepare import class_presets, plan, ready_runs


def own_defaults(arch):
    return {spec.name: spec.default for spec in get_architecture(arch).hparams}


@pytest.fixture
def timings(tmp_path, monkeypatch):
    """An empty timings file of the test's own: a speed is there only where the test stores one."""
    monkeypatch.setenv("CIFAR_CORE_TIMINGS", str(tmp_path / "timings.json"))
    return estimate.timings_path()


def test_every_preset_is_a_recipe_with_a_title_and_two_versions_of_each_notebook():
    for name, preset in PRESETS.items():
        assert {"dataset", "arch", "hparams", "training", "title", "description"} <= set(preset), name
        dataset, arch, hparams, training = recipe_settings(preset)
        # Every value a recipe's reader would accept (the dataset itself need not be on this machine).
        assert check_hparams(arch, hparams) == hparams and (dataset, arch) == (preset["dataset"], preset["arch"])
        checked = check_all(TRAINING_HPARAMS, training, "training")
        assert {**checked, "augment": list(checked["augment"])} == training, name
        if preset["notebook"]:
            other = name[:-5] if name.endswith("_full") else f"{name}_full"
            assert PRESETS[other]["notebook"] == preset["notebook"]
    assert PRESETS["plain_cnn"]["budget_seconds"] <= 300 and PRESETS["plain_cnn_full"]["budget_seconds"] is None
    # A class version learns with the training defaults; its full version keeps the notebook's.
    assert PRESETS["plain_cnn"]["training"]["learning_rate"] == TRAINING["learning_rate"].default
    assert PRESETS["plain_cnn_full"]["training"]["learning_rate"] == 1e-4
    assert "dropout_cnn" in class_presets() and "dropout_cnn_full" not in class_presets()


def test_flags_override_a_preset_and_what_neither_names_takes_its_default():
    dataset, arch, hparams, training = recipe_settings(get_preset("plain_cnn_full"), epochs=3, hparams={"width": 0.5})
    assert (dataset, arch, training["epochs"], training["learning_rate"]) == ("cifar10", "seed_cnn", 3, 1e-4)
    assert hparams == {**own_defaults("seed_cnn"), "width": 0.5}
    assert training["label_smoothing"] == TRAINING["label_smoothing"].default  # the preset does not name it
    assert training["augment"] == [] and training["lr_schedule"] == "constant"
    # Another network: the preset's width of fast_cnn is not the plain CNN's.
    assert recipe_settings(get_preset("fast"), arch="seed_cnn")[2] == own_defaults("seed_cnn")
    assert recipe_settings(get_preset("fast"), dataset=None, arch=None)[:3] == \
        ("cifar10", "fast_cnn", {"width": 0.5, "stem": "whiten"})
    with pytest.raises(ParamError, match="Unknown training setting.*colour. Known: epochs"):
        recipe_settings(get_preset("fast"), colour="blue")


def test_the_command_line_starts_a_preset_with_its_flags(capsys, timings, tiny_cifar):
    # plain_cnn_full has no time budget: the flags alone change it.
    dataset, arch, hparams, training = recipe_settings(get_preset("plain_cnn_full"), epochs=4)
    seed_timings(timings, estimate.speed_key(make_config(dataset, arch, hparams, **training)))
    assert main(["train", "--preset", "plain_cnn_full", "--epochs", "4", "--dry-run", "--json"]) == 0
    found = last_json(capsys.readouterr().out)
    assert (found["dataset"], found["arch"]) == ("cifar10", "seed_cnn") and found["measured_now"] is False
    assert {k: found["training"][k] for k in ("epochs", "learning_rate", "batch_size", "optimizer", "lr_schedule")} \
        == {"epochs": 4, "learning_rate": 1e-4, "batch_size": 32, "optimizer": "adam", "lr_schedule": "constant"}
    # A class preset is fitted to its own budget; --epochs caps the epochs it may take.
    dataset, arch, hparams, training = recipe_settings(get_preset("plain_cnn"))
    config = make_config(dataset, arch, hparams, **training)
    seed_timings(timings, estimate.speed_key(config), train_batch=30.0, startup=5.0)
    assert main(["train", "--preset", "plain_cnn", "--dry-run", "--json"]) == 0
    found = last_json(capsys.readouterr().out)
    assert found["training"]["epochs"] == 3 and found["n_train"] < config["n_train"] and found["seconds"] <= 240


def test_a_recipe_file_with_flags_over_it(capsys, tmp_path, timings):
    recipe = recipe_of(make_config("digits", "small_cnn", {"width": 0.5}, epochs=6, batch_size=32, seed=5,
                                   train_size=300, augment=["flip"]))
    path = tmp_path / "r.json"
    path.write_text(recipe_json(recipe))
    dataset, arch, hparams, training = recipe_settings(recipe, epochs=3)
    seed_timings(timings, estimate.speed_key(make_config(dataset, arch, hparams, **training)))
    assert main(["train", "--recipe", str(path), "--epochs", "3", "--dry-run", "--json"]) == 0
    found = last_json(capsys.readouterr().out)
    assert found["hparams"]["width"] == 0.5 and found["n_train"] == 300
    assert found["training"] == {**recipe["training"], "epochs": 3}
    assert main(["train", "--recipe", str(path), "--preset", "fast", "--dry-run"]) == 2
    assert "Give --recipe or --preset, not both" in capsys.readouterr().err


def test_form_values_over_a_recipe_are_what_the_run_gets():
    link = {"dataset": "digits", "arch": "small_cnn", "h.width": "0.5", "train_size": "300", "epochs": "6"}
    recipe = recipe_from_query(link)
    form = {"dataset": "digits", "arch": "small_cnn", "hparams": {**recipe["hparams"], "width": 0.75},
            **{**recipe["training"], "epochs": 2, "train_size": None}}  # emptied: every image
    dataset, arch, hparams, training = recipe_settings(recipe, **form)
    assert (dataset, arch, hparams["width"], training["epochs"], training["train_size"]) == \
        ("digits", "small_cnn", 0.75, 2, None)
    # No values: the recipe's own, as the link filled the form.
    assert recipe_settings(recipe) == (recipe["dataset"], recipe["arch"], recipe["hparams"], recipe["training"])
    assert recipe_from_query(recipe_query(recipe)) == recipe
    # The form's network changed: the recipe's width was small_cnn's, and the other network's defaults fill in.
    assert recipe_settings(recipe, arch="seed_cnn")[2] == own_defaults("seed_cnn")
    assert recipe_settings({"dataset": "digits", "arch": "seed_cnn"})[3] == \
        {spec.name: default_value(spec) for spec in TRAINING_HPARAMS}


def test_prepare_plans_the_class_presets_and_fits_each_to_its_budget(tmp_path, timings, tiny_cifar, monkeypatch):
    monkeypatch.delenv("FASHION_MNIST_PATH", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    to_train, skipped = plan(RunStore(tmp_path / "runs"))
    assert "plain_cnn" in to_train and set(to_train) | {name for name, _ in skipped} == set(class_presets())
    assert dict(skipped)["fashion"].startswith("Fashion-MNIST is not on this machine")
    assert dict(skipped)["vgg16"].startswith("VGG16's ImageNet weights are not on this machine")
    dataset, arch, hparams, training = recipe_settings(get_preset("plain_cnn"))
    config = make_config(dataset, arch, hparams, **training)
    seed_timings(timings, estimate.speed_key(config), train_batch=30.0, startup=5.0)
    fitted = estimate.recipe_run(get_preset("plain_cnn"))
    assert fitted[:3] == (dataset, arch, hparams)
    assert fitted[3] == {**training, "epochs": 3, "train_size": fitted[3]["train_size"]}
    assert fitted[3]["train_size"] < config["n_train"]  # fewer images: the class budget is short at this speed
    # A budget given wins over the preset's own; a preset without one is left as it is.
    assert estimate.recipe_run(get_preset("plain_cnn"), 10_000)[3]["epochs"] == training["epochs"]
    assert estimate.recipe_run(get_preset("plain_cnn_full"), epochs=2)[3]["epochs"] == 2


def test_unknown_preset_is_refused_with_the_list(capsys):
    assert main(["train", "--preset", "fastest", "--dry-run"]) == 2
    assert "Unknown preset 'fastest'. Choose one of: fast, plain_cnn" in capsys.readouterr().err


@pytest.mark.slow
def test_prepare_trains_class_presets_once_and_skips_what_it_cannot(capsys, tmp_path, timings, monkeypatch,
                                                                      tiny_cifar):
    # A stored speed this slow makes the class budget fit a few epochs on a few images: a real run,
    # on the small archive, in seconds.
    monkeypatch.delenv("FASHION_MNIST_PATH", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    dataset, arch, hparams, training = recipe_settings(get_preset("plain_cnn"))
    seed_timings(timings, estimate.speed_key(make_config(dataset, arch, hparams, **training)), train_batch=30.0,
                 startup=5.0)
    runs = tmp_path / "runs"
    assert main(["prepare", "--preset", "plain_cnn", "--preset", "fashion", "--preset", "vgg16",
                 "--runs-dir", str(runs)]) == 0
    out = capsys.readouterr().out
    assert "Skipped fashion: Fashion-MNIST is not on this machine" in out
    assert "Skipped vgg16: VGG16's ImageNet weights are not on this machine" in out
    assert "plain_cnn: completed" in out
    store = RunStore(runs)
    rows = store.list()
    ready = ready_runs(rows, {r["run_id"]: store.config(r["run_id"]) for r in rows})
    assert [r["preset"] for r in ready] == ["plain_cnn"]
    config = store.config(ready[0]["run_id"])
    assert config["training"]["epochs"] == 3 and config["n_train"] < 140  # fitted to the budget
    assert main(["prepare", "--preset", "plain_cnn", "--runs-dir", str(runs)]) == 0
    assert "Skipped plain_cnn: already trained" in capsys.readouterr().out and len(store.list()) == 1
