import json
import os
import subprocess
import sys

import numpy as np
import pytest
from support import ROOT, evaluated_run, last_json, synthetic_evaluation

from cifar_core.cli.main import main
from cifar_core.runs.store import RunStore


def test_datasets_lists_availability(capsys, offline_cache):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "cifar10" in out and "needs download" in out and "digits" in out and "available" in out


def test_compare_says_what_run_b_fixed_and_broke(capsys, tmp_path):
    store, names = RunStore(tmp_path), ["cat", "dog", "bird", "frog"]
    labels, probabilities = synthetic_evaluation()
    config = {"dataset": "digits", "arch": "seed_cnn", "training": {"augment": []}}
    run_a = evaluated_run(store, config, labels, probabilities, names)
    better = probabilities.copy()
    better[np.arange(100), labels[:100]] += 5  # B gets the first hundred images right
    run_b = evaluated_run(store, {**config, "training": {"augment": ["flip"]}}, labels, better, names)
    assert main(["compare", run_a, run_b, "--runs-dir", str(tmp_path), "--json"]) == 0
    result = last_json(capsys.readouterr().out)
    wrong_before = int(np.sum(probabilities[:100].argmax(1) != labels[:100]))
    assert result["fixed"] == [int(i) for i in np.flatnonzero(probabilities[:100].argmax(1) != labels[:100])]
    assert result["broken"] == [] and np.trace(result["difference"]) == wrong_before > 0
    assert [row["setting"] for row in result["settings"] if row["differs"]] == ["training.augment"]
    assert main(["compare", run_a, run_b, "--runs-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"B fixed {wrong_before} images and broke 0" in out and "training.augment: none (A) -> flip (B)" in out
    assert main(["compare", run_a, run_a, "--runs-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "two different runs" in err and "Traceback" not in err


@pytest.mark.slow
def test_architectures_lists_params(capsys):
    assert main(["architectures"]) == 0
    out = capsys.readouterr().out
    assert "seed_cnn: Plain CNN, 814,122 parameters on CIFAR-10" in out
    assert "trainable_layers = 4 (between 0 and 18)" in out


@pytest.mark.slow
def test_train_and_evaluate_json(capsys, tmp_path):
    code = main(["train", "--dataset", "digits", "--arch", "small_cnn", "--epochs", "2", "--batch-size", "32",
                 "--lr", "0.003", "--augment", "flip", "--runs-dir", str(tmp_path), "--json"])
    result = last_json(capsys.readouterr().out)
    assert code == 0 and result["status"] == "completed" and result["epochs_completed"] == 2
    assert result["val_accuracy"] > 0.2 and result["train_seconds"] > 0 and result["images_per_second"] > 0
    assert main(["evaluate", result["run_id"], "--runs-dir", str(tmp_path), "--json"]) == 0
    evaluation = last_json(capsys.readouterr().out)
    assert 0 <= evaluation["test_accuracy"] <= 1 and evaluation["test_loss"] > 0
    assert sum(map(sum, evaluation["confusion_matrix"])) == 360
    assert main(["evaluate", result["run_id"], "--runs-dir", str(tmp_path)]) == 0
    assert "Confusion matrix" in capsys.readouterr().out
    assert main(["runs", "--runs-dir", str(tmp_path)]) == 0
    assert result["run_id"] in capsys.readouterr().out
    assert main(["epochs", result["run_id"], "--runs-dir", str(tmp_path), "--json"]) == 0
    epochs = last_json(capsys.readouterr().out)["epochs"]
    assert [e["epoch"] for e in epochs] == [0, 1, 2] and abs(epochs[-1]["val_accuracy"] - result["val_accuracy"]) <= 0.002
    assert np.array(epochs[-1]["val_confusion_matrix"]).shape == (10, 10)
    assert main(["epochs", result["run_id"], "--runs-dir", str(tmp_path)]) == 0
    assert f"epoch    2  val accuracy {epochs[-1]['val_accuracy']:.4f}" in capsys.readouterr().out
    assert main(["epochs", result["run_id"], "--epoch", "7", "--runs-dir", str(tmp_path)]) == 1
    assert "Epoch 7 was not recorded: this run has validation predictions for epochs 0 to 2" in capsys.readouterr().err
    model = tmp_path / "model.onnx"
    assert main(["export-model", result["run_id"], "--format", "onnx", "-o", str(model), "--runs-dir", str(tmp_path)]) == 0
    assert "float32 pixels 0–255, NHWC, in" in capsys.readouterr().err and model.stat().st_size > 10_000
    assert main(["export-model", result["run_id"], "--format", "coreml", "-o", "m", "--runs-dir", str(tmp_path)]) == 2
    assert "Model format must be one of onnx, tflite, saved_model" in capsys.readouterr().err


@pytest.mark.slow
def test_lr_find_suggests_a_rate_at_which_three_epochs_learn(cifar_sample, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("CIFAR10_PATH", str(cifar_sample))
    settings = ["--dataset", "cifar10", "--arch", "seed_cnn", "--train-size", "1500", "--batch-size", "32", "--seed", "1"]
    assert main(["lr-find", *settings, "--json"]) == 0
    search = last_json(capsys.readouterr().out)
    rate = search["suggested_learning_rate"]
    assert 1e-5 <= rate <= 0.3 and len(search["losses"]) == len(search["learning_rates"]) > 20, search
    assert search["learning_rates"] == sorted(search["learning_rates"]) and search["learning_rates"][0] == 1e-6
    code = main(["train", *settings, "--epochs", "3", "--lr", str(rate), "--runs-dir", str(tmp_path), "--json"])
    result = last_json(capsys.readouterr().out)
    assert code == 0 and main(["evaluate", result["run_id"], "--runs-dir", str(tmp_path), "--json"]) == 0
    test = last_json(capsys.readouterr().out)
    print(f"suggested {rate:g}: validation accuracy {result['val_accuracy']:.3f}, test accuracy "
          f"{test['test_accuracy']:.3f} after 3 epochs")
    # Real CIFAR-10 learnt: chance is 0.10.
    assert result["val_accuracy"] >= 0.25 and test["test_accuracy"] >= 0.25, (rate, result, test)
    assert sum(map(sum, test["confusion_matrix"])) == 932


@pytest.mark.slow
def test_a_sweep_from_the_command_line(capsys, tmp_path):
    code = main(["train", "--dataset", "digits", "--epochs", "1", "--train-size", "200", "--runs-dir", str(tmp_path),
                 "--sweep", "learning_rate=1e-3,3e-3", "--json"])
    runs = last_json(capsys.readouterr().out)["sweep"]
    assert code == 0 and [r["status"] for r in runs] == ["completed", "completed"]
    rates = [json.loads((tmp_path / r["run_id"] / "config.json").read_text())["training"]["learning_rate"]
             for r in runs]
    assert rates == [1e-3, 3e-3] and all(r["worker"] for r in runs)
    assert main(["train", "--dataset", "digits", "--sweep", "lr=1,2", "--runs-dir", str(tmp_path)]) == 2
    assert "--sweep takes NAME=V1,V2" in capsys.readouterr().err


@pytest.mark.parametrize("argv, code, message", [
    (["train", "--dataset", "digits", "--lr", "50"], 2, "Learning rate must be between 1e-06 and 10"),
    (["train", "--dataset", "digits", "--train-size", "0"], 2, "Training images must be between 1 and"),
    (["train", "--dataset", "digits", "--batch-size", "100", "--train-size", "50"], 2, "Batch size must be between 1 and 50"),
    (["train", "--dataset", "digits", "--hparam", "width=100"], 2, "Width must be between 0.25 and 4"),
    (["train", "--dataset", "digits", "--arch", "resnet"], 2, "Unknown architecture"),
    (["train", "--epochs", "many"], 2, "invalid int value"),
    (["evaluate", "../../etc"], 2, "is not a run id"),
    (["evaluate", "/etc/passwd"], 2, "is not a run id"),
    (["evaluate", "20261122-153000-seed_cnn-1a2b3c"], 1, "There is no run"),
    (["download", "imagenet"], 2, "invalid choice"),
])
def test_exit_codes_and_messages(argv, code, message, capsys, tmp_path):
    if argv[0] in ("train", "evaluate"):
        argv = argv + ["--runs-dir", str(tmp_path)]
    try:
        result = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        result = exc.code
    err = capsys.readouterr().err
    assert result == code and message in err and "Traceback" not in err


@pytest.mark.slow
def test_failed_run_exits_1(capsys, tmp_path):
    code = main(["train", "--dataset", "digits", "--optimizer", "sgd", "--lr", "10", "--epochs", "2",
                 "--lr-schedule", "constant", "--precision", "float32",
                 "--batch-size", "64", "--runs-dir", str(tmp_path), "--json"])
    captured = capsys.readouterr()
    assert code == 1 and last_json(captured.out)["status"] == "failed"
    assert "learning rate is probably too high" in captured.err


def test_download_offline_is_exit_1(capsys, offline_cache):
    assert main(["download", "cifar10"]) == 1
    assert "Cannot download" in capsys.readouterr().err


def test_module_entry_point(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "cifar_core", "evaluate", "../x", "--runs-dir", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "is not a run id" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_importing_the_core_is_light_and_leaves_the_process_alone(tmp_path):
    code = ("import os\n"
            # what the dashboard and the CLI import (the workers call configure_process themselves)
            "import cifar_core, cifar_core.cli.main, cifar_core.data.datasets, cifar_core.runs.store, cifar_core.worker\n"
            "import sys\n"
            # scikit-learn (scipy, pandas: 1.6 s) only where a run is scored, TensorFlow only in workers
            "assert not {'sklearn', 'tensorflow', 'keras'} & set(sys.modules), 'imported at start-up'\n"
            "print('TF_CPP_MIN_LOG_LEVEL' in os.environ)\n"
            "from cifar_core.process import configure_process\n"
            "configure_process(); configure_process()\n"
            "print(os.environ['TF_CPP_MIN_LOG_LEVEL'])\n")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.stdout.split() == ["False", "2"], proc.stderr[-2000:]
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=dict(env, TF_CPP_MIN_LOG_LEVEL="0"),
                          capture_output=True, text=True, timeout=120)
    assert proc.stdout.split() == ["True", "0"], proc.stderr[-2000:]  # a setting of the user's is kept


def test_train_without_the_dataset_says_how_to_get_it(capsys, offline_cache, tmp_path):
    assert main(["train", "--dataset", "cifar10", "--runs-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "python -m cifar_core download cifar10" in err and "Traceback" not in err
    assert not offline_cache.exists() and not list(tmp_path.glob("2*"))  # no download, no run folder
