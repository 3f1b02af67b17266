"""Fixtures for the browser tests: skip where Chromium or the CIFAR-10 sample is absent; one browser."""

from pathlib import Path

import pytest
from browser_support import ARTIFACTS, AXE, CHROMIUM, CHROMIUM_ARGS, SAMPLE


@pytest.fixture(scope="module")
def e2e_env(tmp_path_factory):
    if not SAMPLE.is_file():
        pytest.skip(f"the real CIFAR-10 sample is absent ({SAMPLE})")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    if not AXE.is_file():
        pytest.skip("axe-core is not installed (npm install --prefix tests/e2e/.axe axe-core@4.14.1)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="module")
def browser(e2e_env):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    print(f"\nscreenshots in {ARTIFACTS}")
