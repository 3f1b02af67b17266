"""Hyperparameter specs: enough for the UI to draw a widget, and for the core to refuse bad values."""

import functools
import math
import re
from dataclasses import dataclass
from pathlib import Path

from cifar_core.data.splits import DEFAULT_SEED, DEFAULT_VAL_SPLIT, VAL_SPLIT_RANGE
from cifar_core.errors import ParamError
from cifar_core.i18n import N_, _

AUGMENTATIONS = ("flip", "shift", "rotation", "zoom", "crop")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
LR_SCHEDULES = ("constant", "cosine", "one_cycle")
PRECISIONS = ("auto", "float32")


@functools.cache
def cpu_bf16_pays():
    """Whether Keras' mixed_bfloat16 policy trains faster than float32 on this CPU: where it has AMX
    tiles (amx_bf16 in /proc/cpuinfo). AVX512_BF16 alone does not pay: on a 2-core Xeon that has it,
    every network trained about 1.5 times slower in bfloat16 (bench/throughput.py). Read once a process."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return bool(re.search(r"\bamx_bf16\b", flags))


@dataclass(frozen=True)
class HParam:
    name: str
    kind: str  # "int", "float", "choice", "multi" (a subset of choices), "optional_int", "bool"
    default: object
    help: str
    low: float = None
    high: float = None
    choices: tuple = ()
    log: bool = False  # a log-scale slider suits it (learning rates)
    label: str = ""  # words for people: "Batch size", never `batch_size`
    unit: str = ""  # shown after the label in class mode: "images", "epochs"

    @property
    def title(self):
        """The label in the reader's language (`label` and `help` are marked with N_ where defined)."""
        return _(self.label) if self.label else self.name.replace("_", " ").capitalize()

    @property
    def help_text(self):
        return _(self.help)

    @property
    def unit_text(self):
        return _(self.unit) if self.unit else ""

    def range_text(self):
        if self.kind == "bool":
            return _("on or off")
        if self.kind in ("choice", "multi"):
            choices = ", ".join(map(str, self.choices))
            return (_("one of {choices}") if self.kind == "choice" else _("any of {choices}")).format(choices=choices)
        if self.kind == "float":
            return _("between {low} and {high}").format(low=f"{self.low:g}", high=f"{self.high:g}")
        return _("between {low} and {high}").format(low=int(self.low), high=int(self.high))

    def check(self, value):
        """Return `value` coerced to this parameter's type, or raise ParamError naming the range."""
        bad = ParamError(_("{title} must be {range}, got {value}.").format(
            title=self.title, range=self.range_text(), value=repr(value)))
        if self.kind == "bool":
            if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                return value.strip().lower() in ("1", "true", "yes", "on")
            if isinstance(value, (bool, int)) and value in (0, 1):
                return bool(value)
            raise bad
        if self.kind == "optional_int" and value in (None, "", "all"):
            return None
        if self.kind in ("int", "optional_int", "float"):
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise bad from None
            if isinstance(value, bool) or not math.isfinite(number) or not self.low <= number <= self.high:
                raise bad
            if self.kind == "float":
                return number
            if number != int(number):
                raise bad
            return int(number)
        if self.kind == "choice":
            value = str(value).lower() if isinstance(value, str) else value
            if value not in self.choices:
                raise bad
            return value
        if self.kind == "multi":
            items = [v.strip() for v in value.split(",")] if isinstance(value, str) else list(value or ())
            items = [v for v in items if v]
            if any(v not in self.choices for v in items):
                raise bad
            return tuple(v for v in self.choices if v in items)
        raise AssertionError(self.kind)


# Training options shared by every architecture. Their defaults are the dashboard's and the CLI's:
# a short first run that learns (the notebooks' exact settings live in their presets).
TRAINING_HPARAMS = (
    HParam("epochs", "int", 8, N_("Passes over the training set."), 1, 500, label=N_("Epochs"), unit=N_("passes")),
    HParam("batch_size", "int", 64, N_("Images per gradient step."), 1, 2048, label=N_("Batch size"), unit=N_("images")),
    HParam("optimizer", "choice", "adam", N_("Adam, SGD with Nesterov momentum 0.9, or RMSprop."),
           choices=OPTIMIZERS, label=N_("Optimizer")),
    HParam("learning_rate", "float", 1e-3, N_("Step size of the optimizer (its peak, with a schedule)."),
           1e-6, 10.0, log=True, label=N_("Learning rate")),
    HParam("lr_schedule", "choice", "one_cycle", N_("How the learning rate moves during the run: constant; "
           "cosine decay to zero; or one-cycle, a linear warm-up over the first 20 % of steps, then "
           "cosine decay."), choices=LR_SCHEDULES, label=N_("Learning-rate schedule")),
    HParam("train_size", "optional_int", None,
           N_("Use only this many training images (a quick run); empty for all."), 1, 10_000_000,
           label=N_("Training images"), unit=N_("images")),
    HParam("val_split", "float", DEFAULT_VAL_SPLIT, N_("Share of the training set held out for validation."),
           *VAL_SPLIT_RANGE, label=N_("Validation share")),
    HParam("augment", "multi", (), N_("Random horizontal flip, shift, rotation and zoom of training "
           "images (the notebooks' ImageDataGenerator options); crop: a move of up to 2 pixels with "
           "the edge mirrored (the speed records' translation)."), choices=AUGMENTATIONS,
           label=N_("Augmentation")),
    HParam("label_smoothing", "float", 0.0, N_("Train towards 90 % sure instead of 100 % (at 0.1): "
           "less over-confident, often a little more accurate."), 0.0, 0.5, label=N_("Label smoothing")),
    HParam("weight_decay", "float", 0.0, N_("Shrinks every weight a little at each step (decoupled "
           "weight decay); 0 turns it off."), 0.0, 0.1, label=N_("Weight decay")),
    HParam("patience", "int", 0, N_("Stop after this many epochs without a better validation loss "
           "and keep the best weights; 0 turns early stopping off."), 0, 100,
           label=N_("Early-stopping patience"), unit=N_("epochs")),
    HParam("tta", "bool", False, N_("Test-time augmentation: evaluation averages the predictions for "
           "each test image and its mirror image."), label=N_("Test-time flip")),
    HParam("precision", "choice", "auto", N_("auto: bfloat16 arithmetic where the CPU has AMX units, "
           "float16 on a GPU, else float32; float32: always full precision."),
           choices=PRECISIONS, label=N_("Arithmetic precision")),
    HParam("seed", "int", DEFAULT_SEED, N_("Seed for the split, shuffling and initial weights."), 0, 2**31 - 1,
           label=N_("Random seed")),
)
TRAINING = {spec.name: spec for spec in TRAINING_HPARAMS}  # the same specs, by name


def check_all(specs, values, what):
    """Validate a dict of values against specs; unknown names are refused too."""
    specs = {s.name: s for s in specs}
    unknown = set(values) - set(specs)
    if unknown:
        raise ParamError(_("Unknown {what} parameter(s): {unknown}. Known: {known}.").format(
            what=what, unknown=", ".join(sorted(unknown)), known=", ".join(specs)))
    return {name: spec.check(values[name]) if name in values else spec.default
            for name, spec in specs.items()}


def problems(specs, values):
    """Every out-of-range value of `values` (a dict over `specs`), each as one message that names
    the parameter and its range: what a form shows before it lets a run start."""
    found = []
    for spec in specs:
        if spec.name in values:
            try:
                spec.check(values[spec.name])
            except ParamError as exc:
                found.append(str(exc))
    return found


# An adversarial nudge (Feature maps), in pixel levels of 0–255: beyond 32 it is plainly visible.
MAX_EPSILON = 32.0
EPSILON_STEP = 0.25  # the slider's step, and the smallest-ε search's resolution


def check_epsilon(value):
    """ε as a float within 0–MAX_EPSILON, else a ParamError that gives the range."""
    try:
        epsilon = float(value)
    except (TypeError, ValueError):
        epsilon = None
    if epsilon is None or not 0 <= epsilon <= MAX_EPSILON:
        raise ParamError(_("Epsilon must be a number between 0 and {high} (pixel levels of 0–255), got {value}.")
                         .format(high=f"{MAX_EPSILON:g}", value=repr(value)))
    return epsilon
