"""Recipes: a run's settings as a small JSON file or as a link, so it can be trained again, here or
on another machine, with exactly the same dataset, network, hyperparameters and seed. A preset is a
named recipe (`presets`).

`recipe_settings` is the one way from a recipe or a preset to the settings of a run: the command
line's flags, the Train page's form and `prepare` all go through it.

A recipe holds what a run was asked to do, nothing it found out: no class names, image counts or
library versions. Reading one checks it as a new run's settings are checked (`make_config`), so a
recipe that reads is one that trains. No NumPy or TensorFlow here: the web server imports it.
"""

import json
from pathlib import Path
from urllib.parse import urlencode

from cifar_core.config.architectures import ARCHITECTURES, get_architecture
from cifar_core.config.hparams import TRAINING
from cifar_core.config.run_config import make_config
from cifar_core.data.datasets import DATASETS
from cifar_core.errors import DataError, ParamError
from cifar_core.i18n import N_, _, number

VERSION = 1
FIELDS = ("recipe", "dataset", "arch", "hparams", "training")
HPARAM_PREFIX = "h."  # an architecture's own setting in a link: h.width=0.5
PAGE_PARAMS = ("mode", "run", "image", "lang", "name")  # the dashboard's own address parameters: never part of a recipe
MAX_BYTES = 64_000  # a recipe is a few hundred bytes; anything much larger is not one
# A run configured before an option existed trained with these values, not with today's defaults.
BEFORE_THE_OPTION = {"lr_schedule": "constant"}
HOW_TO_GET_ONE = N_("Write one with 'python -m cifar_core recipe RUN_ID' or the Evaluate page's "
                     "\"Recipe (JSON)\" button.")


def recipe_of(config):
    """The recipe of a run's config (or of a checked config about to be queued)."""
    given = config.get("training") or {}
    training = {name: given.get(name, BEFORE_THE_OPTION.get(name, spec.default)) for name, spec in TRAINING.items()}
    training["augment"] = list(training["augment"] or ())
    return {"recipe": VERSION, "dataset": config["dataset"], "arch": config["arch"],
            "hparams": dict(config.get("hparams") or {}), "training": training}


def recipe_settings(recipe, dataset=None, arch=None, hparams=None, **training):
    """(dataset, arch, hparams, training) to submit: the settings of `recipe` (a recipe or a preset)
    with the overrides given winning, and every setting neither names at its default.

    A dataset or arch of None is not given; a training option given as None is a value (train_size
    None: every image). Another architecture than the recipe's drops the recipe's own hyperparameters:
    they are settings of its network. Values are checked when the run is configured (`make_config`)."""
    _check_training_names(training)
    dataset = dataset or recipe["dataset"]
    arch = arch or recipe["arch"]
    own = (recipe.get("hparams") or {}) if arch == recipe["arch"] else {}
    given = {**own, **(hparams or {})}
    hparams = {spec.name: given.pop(spec.name, default_value(spec)) for spec in get_architecture(arch).hparams}
    hparams.update(given)  # an unknown name stays, for `make_config` to refuse by name
    training = {**{name: default_value(spec) for name, spec in TRAINING.items()}, **(recipe.get("training") or {}),
                **training}
    return dataset, arch, hparams, training


def default_value(spec):
    """A setting's default as a recipe and the form hold it (a list, for a set of choices)."""
    return list(spec.default) if spec.kind == "multi" else spec.default


def _check_training_names(names):
    strays = sorted(set(names) - set(TRAINING))
    if strays:
        raise ParamError(_("Unknown training setting(s): {names}. Known: {known}.").format(
            names=", ".join(strays), known=", ".join(TRAINING)))


def recipe_json(recipe):
    """The recipe as the text of a `.json` file, one setting a line."""
    return json.dumps(recipe, indent=2) + "\n"


def check_recipe(data):
    """A recipe with every value checked and every default filled in, from a parsed recipe.

    Raises ParamError for a malformed or out-of-range recipe, DataError for a dataset that is not
    on this machine (with how to get it)."""
    if not isinstance(data, dict):
        raise ParamError(_("A recipe is a JSON object with {fields}; got {type}.").format(
            fields=", ".join(FIELDS), type=type(data).__name__))
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise ParamError(_("Unknown recipe field(s): {names}. A recipe holds {fields}.").format(
            names=", ".join(unknown), fields=", ".join(FIELDS)))
    if data.get("recipe", VERSION) != VERSION:
        raise ParamError(_("This is a recipe of format {format}; this dashboard reads format {version}. "
                           "Export it again from a dashboard of this version.").format(
            format=repr(data["recipe"]), version=VERSION))
    for name, example in (("dataset", "cifar10"), ("arch", "fast_cnn")):
        if not isinstance(data.get(name), str):
            raise ParamError(_("A recipe needs \"{name}\" as a name, e.g. \"{example}\".").format(
                name=name, example=example))
    hparams, training = data.get("hparams") or {}, data.get("training") or {}
    for name, value in (("hparams", hparams), ("training", training)):
        if not isinstance(value, dict):
            raise ParamError(_("A recipe's \"{name}\" is an object of NAME: VALUE; got {type}.").format(
                name=name, type=type(value).__name__))
    # checked here: `make_config` takes the training settings as keywords
    _check_training_names(training)
    return recipe_of(make_config(data["dataset"], data["arch"], hparams, **training))


def read_recipe(path_or_text):
    """A checked recipe from a file (a path) or from its JSON text (a str starting with '{').

    Every problem of a file is a DataError that names the file, the problem and the fix: the
    command line then exits with its code for a data problem."""
    text, source = _recipe_text(path_or_text)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(_("{source} is not JSON ({error}, line {line}). {how}").format(
            source=source, error=exc.msg, line=exc.lineno, how=_(HOW_TO_GET_ONE))) from None
    try:
        return check_recipe(data)
    except (ParamError, DataError) as exc:
        raise DataError(f"{source}: {exc}") from None


def _recipe_text(path_or_text):
    """(text, a name for messages) of a recipe given as a path or as JSON text."""
    if isinstance(path_or_text, str) and path_or_text.lstrip()[:1] in ("{", "["):
        return path_or_text, _("The recipe")
    path = Path(path_or_text)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise DataError(_("{path} is too large to be a recipe (a recipe is a few hundred bytes). {how}").format(
                path=path, how=_(HOW_TO_GET_ONE)))
        return path.read_text(encoding="utf-8"), str(path)
    except UnicodeDecodeError:
        raise DataError(_("{path} is not a text file, so not a recipe. {how}").format(
            path=path, how=_(HOW_TO_GET_ONE))) from None
    except OSError as exc:
        raise DataError(_("Cannot read the recipe {path} ({error}). Give the path of a recipe file. {how}").format(
            path=path, error=exc.strerror or exc, how=_(HOW_TO_GET_ONE))) from None


# ---- links ------------------------------------------------------------------------------

def _text(value):
    """A setting as a link shows it: 'all' for every image, on/off, 'flip,shift', '0.001'."""
    if value is None:
        return "all"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (list, tuple)):
        return ",".join(value) or "none"
    if isinstance(value, float):
        short = format(value, "g")
        return short if float(short) == value else repr(value)
    return str(value)


def recipe_query(recipe):
    """The recipe as flat address parameters: dataset, arch, h.NAME for the network's own
    settings, then every training setting by name."""
    return {"dataset": recipe["dataset"], "arch": recipe["arch"],
            **{HPARAM_PREFIX + name: _text(value) for name, value in recipe["hparams"].items()},
            **{name: _text(value) for name, value in recipe["training"].items()}}


def recipe_link(recipe, **extra):
    """The relative address of the Train page with the recipe filled in: '/train?dataset=…'.
    `extra` adds the page's own parameters (mode="class"); None values are left out."""
    params = {**recipe_query(recipe), **{k: v for k, v in extra.items() if v is not None}}
    return "/train?" + urlencode(params, safe=",")


def recipe_params(params):
    """The names in address parameters `params` that belong to a recipe (the others are the page's)."""
    return [name for name in params if name not in PAGE_PARAMS]


def recipe_from_query(params):
    """A checked recipe from address parameters (a dict or `st.query_params`; a repeated parameter
    counts once, its last value). A bad link raises ParamError or DataError saying what to fix."""
    given = {name: value[-1] if isinstance(value, list) else value for name, value in dict(params).items()
             if name not in PAGE_PARAMS}
    missing = [name for name in ("dataset", "arch") if not given.get(name)]
    if missing:
        names = missing[0] if len(missing) == 1 else _("{first} and {second}").format(
            first=missing[0], second=missing[1])
        raise ParamError(_("The link lacks {names}: a recipe link starts /train?dataset=cifar10&arch=fast_cnn&…")
                         .format(names=names))
    version = given.pop("recipe", str(VERSION))
    hparams = {name[len(HPARAM_PREFIX):]: value for name, value in given.items() if name.startswith(HPARAM_PREFIX)}
    training = {name: value for name, value in given.items()
                if not name.startswith(HPARAM_PREFIX) and name not in ("dataset", "arch")}
    if training.get("augment", "").strip().lower() == "none":
        training["augment"] = ""
    strays = sorted(set(training) - set(TRAINING))
    if strays:
        raise ParamError(_("Unknown setting(s) in the link: {names}. Known: dataset, arch, {prefix}NAME for the "
                           "network's own, {known}.").format(
            names=", ".join(strays), prefix=HPARAM_PREFIX, known=", ".join(TRAINING)))
    recipe = {"recipe": int(version) if str(version).isdigit() else version, "dataset": given["dataset"],
              "arch": given["arch"], "hparams": hparams, "training": training}
    return check_recipe(recipe)


def describe_recipe(recipe):
    """One line for people, in the reader's language: 'Fast CNN with width 0.5, on CIFAR-10: 8 epochs of
    batch 64, adam at 0.001 …'."""
    t = recipe["training"]
    arch = ARCHITECTURES.get(recipe["arch"])
    titles = {spec.name: spec.title[:1].lower() + spec.title[1:] for spec in (arch.hparams if arch else ())}
    own = ", ".join(f"{titles.get(name, name)} {_text(value)}" for name, value in recipe["hparams"].items())
    dataset = DATASETS[recipe["dataset"]].title_text if recipe["dataset"] in DATASETS else recipe["dataset"]
    if t["train_size"] is None:
        images = _("all training images")
    else:
        images = _("{count} training images").format(count=number(t['train_size']))
    augment = (_("augmentation {names}").format(names=", ".join(t["augment"])) if t["augment"]
               else _("no augmentation"))
    if own:
        line = _("{arch} with {settings}, on {dataset}: {epochs} epochs of batch {batch_size}, {optimizer} at "
                 "{learning_rate} ({schedule}), {images}, {augmentation}, seed {seed}")
    else:
        line = _("{arch} on {dataset}: {epochs} epochs of batch {batch_size}, {optimizer} at {learning_rate} "
                 "({schedule}), {images}, {augmentation}, seed {seed}")
    return line.format(arch=arch.title_text if arch else recipe["arch"], settings=own, dataset=dataset,
                       epochs=t["epochs"], batch_size=t["batch_size"], optimizer=t["optimizer"],
                       learning_rate=_text(t["learning_rate"]), schedule=t["lr_schedule"].replace("_", "-"),
                       images=images, augmentation=augment, seed=t["seed"])
