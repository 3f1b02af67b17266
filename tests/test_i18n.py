"""The Korean catalog covers every message a person may read, and the language is chosen as the
README says. A new English message without its translation fails here, in CI."""

import ast
import re

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po
from support import ROOT

from cifar_core import i18n
from cifar_core.config import hparams
from cifar_core.errors import ParamError
from cifar_core.server import estimate

# The same files as cifar_core/locale/babel.cfg, which `pybabel extract` reads.
METHOD_MAP = [("app.py", "python"), ("pages/**.py", "python"), ("cifar_core/**.py", "python")]
PLACEHOLDER = re.compile(r"\{(\w*)[^{}]*\}")


def source_messages():
    """{msgid: "file:line"} of every message marked in the code (a counted message by its singular)."""
    found = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(ROOT, METHOD_MAP, keywords=DEFAULT_KEYWORDS):
        text = message[0] if isinstance(message, tuple) else message
        if text:
            found.setdefault(text, f"{filename}:{lineno}")
    return found


@pytest.fixture(scope="module")
def korean():
    with open(i18n.catalog_path("ko"), "rb") as file:
        return read_po(file, locale="ko")


def test_every_message_has_a_checked_korean_translation(korean):
    messages = source_messages()
    assert len(messages) > 100  # the extraction found the code
    untranslated = []
    for text, where in sorted(messages.items(), key=lambda item: item[1]):
        entry = korean.get(text)
        strings = entry.string if entry is not None and isinstance(entry.string, tuple) else (
            (entry.string,) if entry is not None else ())
        if entry is None or entry.fuzzy or not all(strings):
            untranslated.append(f"{where}: {text!r}")
    assert not untranslated, (
        f"{len(untranslated)} messages lack a checked Korean translation. Run `pybabel extract` and "
        "`pybabel update` as the README says, then translate them in cifar_core/locale/ko/LC_MESSAGES/"
        "messages.po (and clear any `fuzzy` flag):\n" + "\n".join(untranslated[:40]))


def test_translations_keep_every_placeholder(korean):
    wrong = []
    for entry in korean:
        if not entry.id:
            continue
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        wanted = set(PLACEHOLDER.findall(ids[-1]))  # Korean has one form: the plural's
        wrong += [f"{ids[0]!r} → {text!r}" for text in strings if text and set(PLACEHOLDER.findall(text)) != wanted]
    assert not wrong, "Translations whose {placeholders} differ from the English:\n" + "\n".join(wrong)


@pytest.mark.parametrize("value, expected", [("ko", "ko"), ("ko-KR", "ko"), ("ko_KR.UTF-8", "ko"), ("en-US", "en"),
                                             ("fr", None), ("", None), (None, None)])
def test_a_language_is_read_from_any_locale_spelling(value, expected):
    assert i18n.supported(value) == expected


def test_the_default_language_is_the_servers_setting_never_the_shells(monkeypatch):
    monkeypatch.setenv("LANG", "ko_KR.UTF-8")
    monkeypatch.delenv(i18n.LANG_ENV, raising=False)
    assert i18n.default_language() == "en"
    monkeypatch.setenv(i18n.LANG_ENV, "ko")
    assert i18n.default_language() == "ko"


@pytest.fixture
def in_korean():
    i18n.use_language_source(lambda: "ko")
    yield
    i18n.use_language_source(None)


def test_a_core_message_reaches_the_caller_in_korean(in_korean):
    with pytest.raises(ParamError) as raised:
        hparams.TRAINING["epochs"].check(100_000)
    message = str(raised.value)
    assert re.search("[가-힣]", message), message
    assert "100000" in message.replace(",", "")


def test_numbers_and_durations_follow_the_language(in_korean):
    assert estimate.describe_duration(3 * 60 + 10) == "약 3분"
    assert i18n.percent(0.577) == "57.7%"
    i18n.use_language_source(lambda: "en")
    assert estimate.describe_duration(3 * 60 + 10) == "about 3 min"
    assert i18n.number(12345) == "12,345" and i18n.percent(0.1235) == f"{0.1235:.1%}"


def test_a_workers_task_speaks_the_language_the_server_sent():
    with i18n.speaking("ko"):
        assert i18n.current_language() == "ko"
        with i18n.speaking(None):  # a task sent without a language: the server's default
            assert i18n.current_language() == "en"
    assert i18n.current_language() == "en"


def bound_names(node):
    """Every name `node`'s own scope binds (nested functions, classes and comprehensions have their own)."""
    found = set()
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.ListComp,
                              ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            continue
        if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
            found.add(child.id)
        found |= bound_names(child)
    return found


def test_no_function_hides_the_translation_function():
    """`a, _ = pair` in a function that also calls `_()` makes `_` local there: every `_()` before
    it raises UnboundLocalError, and after it calls whatever was unpacked."""
    hiding = []
    for path in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")), *sorted((ROOT / "cifar_core").rglob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and "_" in bound_names(node):
                calls = any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "_"
                            for n in ast.walk(node))
                if calls:
                    hiding.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert not hiding, "Rename the `_` these functions assign (to `_unused`, say):\n" + "\n".join(hiding)
