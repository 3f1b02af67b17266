"""Hyperparameter specs: enough for the UI to draw a widget, and for the core to refuse bad values."""

import math
from dataclasses import dataclass

from .datasets import DEFAULT_SEED, DEFAULT_VAL_SPLIT
from .errors import ParamError

AUGMENTATIONS = ("flip", "shift", "rotation", "zoom")
OPTIMIZERS = ("adam", "sgd", "rmsprop")


@dataclass(frozen=True)
class HParam:
    name: str
    kind: str  # "int", "float", "choice", "multi" (a subset of choices), "optional_int"
    default: object
    help: str
    low: float = None
    high: float = None
    choices: tuple = ()
    log: bool = False  # a log-scale slider suits it (learning rates)

    def range_text(self):
        if self.kind in ("choice", "multi"):
            prefix = "one of " if self.kind == "choice" else "any of "
            return prefix + ", ".join(map(str, self.choices))
        if self.kind == "float":
            return f"between {self.low:g} and {self.high:g}"
        return f"between {int(self.low)} and {int(self.high)}"

    def check(self, value):
        """Return `value` coerced to this parameter's type, or raise ParamError naming the range."""
        bad = ParamError(f"{self.name} must be {self.range_text()}, got {value!r}.")
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


# Training options shared by every architecture. Their defaults are the dashboard's and the CLI's.
TRAINING_HPARAMS = (
    HParam("epochs", "int", 5, "Passes over the training set.", 1, 500),  # a short first run
    HParam("batch_size", "int", 32, "Images per gradient step.", 1, 2048),
    HParam("optimizer", "choice", "adam", "Adam, SGD with momentum 0.9, or RMSprop.",
           choices=OPTIMIZERS),
    HParam("learning_rate", "float", 1e-4, "Step size of the optimizer.", 1e-6, 10.0, log=True),
    HParam("train_size", "optional_int", None,
           "Use only this many training images (a quick run); empty for all.", 1, 10_000_000),
    HParam("val_split", "float", DEFAULT_VAL_SPLIT, "Share of the training set held out for validation.",
           0.05, 0.9),
    HParam("augment", "multi", (), "Random horizontal flip, shift, rotation and zoom of training "
           "images (the notebooks' ImageDataGenerator options).", choices=AUGMENTATIONS),
    HParam("patience", "int", 0, "Stop after this many epochs without a better validation loss "
           "and keep the best weights; 0 turns early stopping off.", 0, 100),
    HParam("seed", "int", DEFAULT_SEED, "Seed for the split, shuffling and initial weights.", 0, 2**31 - 1),
)


def check_all(specs, values, what):
    """Validate a dict of values against specs; unknown names are refused too."""
    specs = {s.name: s for s in specs}
    unknown = set(values) - set(specs)
    if unknown:
        raise ParamError(f"Unknown {what} parameter(s): {', '.join(sorted(unknown))}. "
                         f"Known: {', '.join(specs)}.")
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
