"""A run as one standalone Keras script: `python SCRIPT cifar-10-python.tar.gz` trains it again and
prints its test accuracy, on any machine with keras and numpy, without this package.

The script cannot drift from the product: its network, split, standardisation, augmentation,
optimizer, schedule, loss, precision policy and archive reader are the product's own functions,
copied from this package's source files, read as text (`ast`), never imported. Only the glue is
written here (`script_template`). Works from a run's config alone, without TensorFlow: the web
server calls it.
"""

import ast
from pathlib import Path

from cifar_core import i18n
from cifar_core.config.recipes import describe_recipe, recipe_of
from cifar_core.errors import ParamError
from cifar_core.export import script_template as template
from cifar_core.i18n import _

PACKAGE = Path(__file__).parents[1]  # cifar_core/
# The network builders each architecture needs, besides the input stage and the output layer.
NETWORKS = {"seed_cnn": ("make_seed_cnn",), "bn_cnn": ("make_seed_cnn", "make_bn_cnn"),
            "dropout_cnn": ("make_dropout_cnn",), "small_cnn": ("make_small_cnn",),
            "fast_cnn": ("make_fast_cnn",), "vgg16_transfer": ("make_vgg16_transfer",)}
# What the script copies from the product, in the order it reads best: (module, names, what for).
COPIED = (
    ("data.cifar_archive", ("FOLDER", "TRAIN_BATCHES", "MEMBERS", "_safe_dtype", "_reconstruct", "_ALLOWED",
                       "_RestrictedUnpickler", "safe_unpickle", "_members", "_batch", "iter_cifar10",
                       "_class_names", "read_cifar10"),
     "the archive, read with a restricted unpickler"),
    ("data.splits", ("DEFAULT_VAL_SPLIT", "DEFAULT_SEED", "VAL_SPLIT_RANGE", "Dataset", "Split",
                     "stratified_sample", "check_split", "split_dataset", "channel_stats"),
     "the seeded, stratified split; channel statistics"),
    ("worker.models", None, "the network (standardising inside) and the loss"),
    ("config.hparams", ("AUGMENTATIONS", "cpu_bf16_pays"), "the augmentation options; where bfloat16 pays"),
    ("worker.pipeline", ("CROP_PIXELS", "make_augmenter"), "augmentation of training batches"),
    ("worker.training", ("dtype_policy", "learning_rate_schedule", "make_optimizer"),
     "precision, learning-rate schedule, optimizer"),
    ("worker.evaluation", ("predict_with_flip",), "the test-time flip"),
)


def export_refusal(config):
    """Why a run cannot be exported as a script, or None when it can."""
    if config.get("dataset") != "cifar10":
        return _("The Keras script reads the official CIFAR-10 archive, and this run trained on {dataset}. "
                 "Reproduce it with its recipe instead: 'python -m cifar_core train --recipe FILE'.").format(
            dataset=config.get("dataset"))
    if config.get("arch") not in NETWORKS:
        return _("The architecture {arch} cannot be exported as a script.").format(arch=repr(config.get("arch")))
    return None


def export_script(config, run_id=""):
    """The text of a standalone Python script that reproduces the run of `config`.

    Raises ParamError, saying what to do instead, for a run the script cannot reproduce."""
    refusal = export_refusal(config)
    if refusal:
        raise ParamError(refusal)
    recipe = recipe_of(config)
    arch = recipe["arch"]
    parts = [_header(recipe, run_id), template.IMPORTS, _settings(recipe), template.HELPERS]
    if arch == "vgg16_transfer":
        parts.append(template.VGG16_BASE)
    for module, names, purpose in COPIED:
        if names is None:
            names = ("VGGPreprocess", "input_stage", "_output", *NETWORKS[arch], "WHITENING_LAYER",
                     "WHITENING_IMAGES", "fit_whitening", "SparseCrossentropy")
        parts.append(_section(module, names, purpose))
    option, use = template.WEIGHTS_OPTION if arch == "vgg16_transfer" else ("", "")
    parts.append(template.MAIN.replace("@WEIGHTS_OPTION@", option).replace("@WEIGHTS_USE@", use)
                 .replace("@BUILD@", f"make_{arch}"))
    return "\n\n\n".join(part.strip("\n") for part in parts) + "\n"


def _header(recipe, run_id):
    """The script's docstring: which run it reproduces, and how to run it."""
    run = f"run {run_id}" if run_id else "a run"
    extra = "\n\nVGG16 starts from ImageNet weights, downloaded once by Keras; --weights none starts from random\n" \
            "weights (no download)." if recipe["arch"] == "vgg16_transfer" else ""
    with i18n.speaking(i18n.SOURCE):  # a Python script: English, like its code and comments
        what = describe_recipe(recipe)
    return template.HEADER.replace("@RUN@", run).replace("@WHAT@", _wrap(what + ".")) + extra + '\n"""'


def _wrap(text, width=96):
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join([*lines, line])


def _settings(recipe):
    """The run's settings as Python literals: the only values the script does not compute."""
    def literal(values):
        return "{\n" + "".join(f"    {name!r}: {value!r},\n" for name, value in values.items()) + "}"

    return (f"# ---- the run's settings (its recipe) {'-' * 62}\n\n"
            f"HPARAMS = {literal(recipe['hparams'])}  # the network's own\n\n"
            f"TRAINING = {literal(recipe['training'])}")


def _section(module, names, purpose):
    """The definitions `names` of the product's `module`, as its source has them, under a title."""
    found = _definitions(module)
    missing = [name for name in names if name not in found]
    if missing:  # the product renamed something the script copies: a bug here, not the user's
        raise AssertionError(f"{_file(module)} no longer defines {', '.join(missing)}")
    title = f"# ---- from {_file(module)}: {purpose} "
    text = ""
    for previous, name in zip((None, *names), names):  # constants one after another; two blank lines around defs
        together = previous is not None and found[previous].count("\n") == 0 and found[name].count("\n") == 0
        text += ("\n" if together else "\n\n\n" if previous else "") + found[name]
    return title + "-" * max(4, 100 - len(title)) + "\n\n" + text


def _file(module):
    """`cifar_core/data/splits.py` for the product's module `data.splits`."""
    return "cifar_core/" + module.replace(".", "/") + ".py"


def _definitions(module):
    """{name: source text} of the top-level functions, classes and constants of a product module."""
    source = (PACKAGE.parent / _file(module)).read_text(encoding="utf-8")
    lines = source.splitlines()
    found = {}
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            found[node.name] = _copy(lines, node)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = _copy(lines, node)
    return found


def _copy(lines, node):
    """A definition's source lines, less the product's Keras registration decorators and its imports
    of other product modules (the script defines what those gave)."""
    decorators = getattr(node, "decorator_list", [])
    drop = set()
    for decorator in decorators:
        if "register_keras_serializable" in ast.unparse(decorator):
            drop.update(range(decorator.lineno, decorator.end_lineno + 1))
    for inner in ast.walk(node):
        if isinstance(inner, ast.ImportFrom) and (inner.level or (inner.module or "").startswith("cifar_core")):
            drop.update(range(inner.lineno, inner.end_lineno + 1))
    start = min([node.lineno, *(d.lineno for d in decorators)])
    return "\n".join(lines[i - 1] for i in range(start, node.end_lineno + 1) if i not in drop)
