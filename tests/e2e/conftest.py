"""Fixtures of the browser tests: one Jupyter server and one headless Chromium per app, shared by all
the e2e tests (pytest groups them by app); a fresh page and kernel per test. Missing Chromium or
Playwright fails (never skips) with how to install them."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .harness import APPS, MissingBrowser, chromium, jupyter_server, output_root

if TYPE_CHECKING:
    from playwright.sync_api import Browser

    from .harness import JupyterServer


@dataclass
class AppSession:
    app: str
    server: JupyterServer
    browser: Browser
    out: Path  # this app's screenshots and figures


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in item.nodeid.replace("\\", "/"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session", params=APPS)
def app_session(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AppSession]:
    app = str(request.param)
    base = tmp_path_factory.mktemp(f"e2e-{app}")
    out = output_root() / app
    shutil.rmtree(out, ignore_errors=True)  # no screenshots left over from an earlier run
    out.mkdir(parents=True, exist_ok=True)
    missing = ""
    try:
        with chromium() as browser, jupyter_server(app, base / "root", base / "home") as server:
            yield AppSession(app, server, browser, out)
    except MissingBrowser as exc:
        missing = str(exc)
    if missing:  # a failure, never a skip: the browser tests are part of the default run
        pytest.fail(missing, pytrace=False)
