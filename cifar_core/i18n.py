"""The words a person reads, in their language: gettext catalogs made with Babel, and numbers and
percentages formatted for the language (durations are whole messages: "about {minutes} min").

English is the source language. A message is written in English where it is used and wrapped in
`_()` (or `ngettext` where it counts something); `cifar_core/locale/<lang>/LC_MESSAGES/messages.po`
holds its translation, and `pybabel extract` / `update` keep that catalog in step with the code
(see the README). Run ids, file names and JSON or recipe keys are never translated.

Which language? The dashboard tells this module the language of the tab whose page is running
(`use_language_source`); the CLI speaks English, whatever `LANG` says, since scripts and notes read its
lines; everywhere else (the workers, the job manager's threads) it is `CIFAR_CORE_LANG`, else English.
"""

import contextlib
import functools
import gettext
import io
import os
import threading
from decimal import Decimal
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

SOURCE = "en"
# Each language's own name, as its readers look for it in the switch.
LANGUAGES = {"en": "English", "ko": "한국어"}
LANG_ENV = "CIFAR_CORE_LANG"
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"

_language_source = None
_thread = threading.local()  # a language set for one task of a worker's thread pool


def supported(value):
    """The catalog language that `value` names ("ko", "ko-KR", "ko_KR.UTF-8" → "ko"), else None."""
    if not value or not isinstance(value, str):
        return None
    code = value.strip().replace("-", "_").split(".")[0].split("_")[0].lower()
    return code if code in LANGUAGES else None


def default_language():
    """The language of a caller that did not choose one: `CIFAR_CORE_LANG`, else English."""
    return supported(os.environ.get(LANG_ENV)) or SOURCE


def use_language_source(source):
    """Installs `source()`, which returns the language of whoever the current code serves, or None
    outside such a caller. The dashboard installs one that reads the running tab's choice."""
    global _language_source
    _language_source = source


@contextlib.contextmanager
def speaking(language):
    """Within this block, this thread's messages are in `language`: a worker's task answers in the
    language of the tab that asked (the server sends `current_language()` with the task)."""
    before = getattr(_thread, "language", None)
    _thread.language = supported(language)
    try:
        yield
    finally:
        _thread.language = before


def current_language():
    language = getattr(_thread, "language", None) or (_language_source() if _language_source else None)
    return supported(language) or default_language()


def catalog_path(language):
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(language):
    """The compiled catalog of `language`, built once a process from its `.po` (fuzzy entries left out,
    so an unchecked translation shows the English)."""
    if language == SOURCE:
        return gettext.NullTranslations()
    with open(catalog_path(language), "rb") as file:
        catalog = read_po(file, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def _(message):
    """`message` in the current caller's language."""
    return translations(current_language()).gettext(message)


def ngettext(singular, plural, count):
    """The form of a counted message that suits `count`, in the current caller's language."""
    return translations(current_language()).ngettext(singular, plural, count)


def N_(message):
    """Marks `message` for the catalog where it is defined (a constant); `_()` translates it where it is shown."""
    return message


def babel_locale(language=None):
    try:
        return Locale.parse(language or current_language())
    except (UnknownLocaleError, ValueError):
        return Locale.parse(SOURCE)


def number(value, digits=None):
    """`value` with the language's group separators ("12,345"); with `digits`, that many decimals."""
    pattern = None if digits is None else "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=babel_locale())


def percent(fraction, digits=1):
    """A fraction as a percentage in the language's style (0.577 → "57.7%")."""
    pattern = "#,##0" + ("." + "0" * digits if digits else "") + "%"
    rounded = Decimal(f"{fraction * 100:.{digits}f}") / 100  # rounded as Python's f"{x:.1%}" rounds it
    return format_percent(rounded, format=pattern, locale=babel_locale())
