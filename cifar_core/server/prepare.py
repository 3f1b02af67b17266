"""Ready-made runs for a lesson: the class version of every preset, trained ahead of class.

`python -m cifar_core prepare` calls `plan` then trains what it lists through the job manager,
one run after another, each preset's settings fitted to its time budget (`estimate.recipe_run`). A run records its preset in its config, so a second `prepare` skips the
presets that already have a completed run, and trains again the ones that were stopped or
interrupted (Ctrl+C resumes by running the command again).
"""

from cifar_core.config.presets import PRESETS, get_preset, preset_title
from cifar_core.config.recipes import recipe_settings
from cifar_core.data.datasets import DATASETS
from cifar_core.data.download import imagenet_weights_available
from cifar_core.i18n import _


def class_presets():
    return [name for name, preset in PRESETS.items() if preset["version"] == "class"]


def ready_runs(rows, configs):
    """The newest completed run of each preset, newest first: what the Home page offers.
    `rows` are `RunStore.list()` rows and `configs` maps their run ids to configs."""
    found = {}
    for row in rows:  # RunStore.list() is newest first
        preset = configs.get(row["run_id"], {}).get("preset")
        if preset in PRESETS and row["status"] == "completed" and row["has_model"] and preset not in found:
            found[preset] = row
    return [{**row, "preset": name, "title": preset_title(name)} for name, row in found.items()]


def plan(store, presets=None):
    """(to_train, skipped): preset names to train now, and [(name, why)] of those left out ("already
    trained" is a value that callers compare: it stays English)."""
    rows = store.list()
    done = {r["preset"] for r in ready_runs(rows, {r["run_id"]: store.config(r["run_id"]) for r in rows})}
    to_train, skipped = [], []
    for name in presets or class_presets():
        dataset_name, _arch, hparams, _training = recipe_settings(get_preset(name))
        dataset = DATASETS[dataset_name]
        if name in done:
            skipped.append((name, "already trained"))
        elif not dataset.is_local():
            skipped.append((name, _("{title} is not on this machine (python -m cifar_core download {name}, or set "
                                    "{variable})").format(title=dataset.title_text, name=dataset.name,
                                                          variable=dataset.env_var)))
        elif hparams.get("weights") == "imagenet" and not imagenet_weights_available():
            skipped.append((name, _("VGG16's ImageNet weights are not on this machine (they download once, 58 MB, "
                                    "with a network)")))
        else:
            to_train.append(name)
    return to_train, skipped
