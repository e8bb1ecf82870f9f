"""Plumbing for browser tests and benchmarks: a throwaway Jupyter server, headless Chromium, a notebook page.

Nothing here knows about vidlabel: it starts JupyterLab or Notebook 7 from this Python environment with
isolated config, settings, runtime and workspace dirs (the environment's installed extensions, such as
anywidget, are still found), opens a notebook in Chromium through Playwright, runs its cells the way a
person does (select a cell, Ctrl+Enter), waits for the kernel, reads cell outputs, saves screenshots, and
tears everything down (kernels, server, browser) however the test ends.

Missing Chromium or Playwright raises :class:`MissingBrowser` with the command that installs them; the
tests turn that into a failure, never a skip.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

APPS = ("lab", "notebook7")
REPO = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # Keep timers and requestAnimationFrame at full rate in a headless page.
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
INSTALL_HINT = (
    "the browser tests need Chromium and the Python playwright package: "
    "`apt-get install -y chromium` (Debian/Ubuntu) and `pip install playwright` "
    "(do not run `playwright install`; the system Chromium is used)"
)

# User settings for both apps: no news or update checks, no extension manager, and every cell kept in the
# DOM (no windowing), so that cells and outputs can be found and read wherever they are scrolled.
LAB_SETTINGS: dict[str, dict[str, Any]] = {
    "@jupyterlab/apputils-extension/notification": {"checkForUpdates": False, "fetchNews": "false"},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/extensionmanager-extension/plugin": {"enabled": False},
}


class MissingBrowser(RuntimeError):
    """Chromium or Playwright is not installed."""


class HarnessError(RuntimeError):
    """The server, the page or a cell did not do what was waited for."""


def output_root() -> Path:
    """Where screenshots and figures go: ``$VIDLABEL_TEST_OUTPUT`` or ``test-output/e2e`` in the repo."""
    env = os.environ.get("VIDLABEL_TEST_OUTPUT")
    return Path(env) if env else REPO / "test-output" / "e2e"


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    if Path("/usr/bin/chromium").exists():  # the Debian package's place, if PATH is bare
        return "/usr/bin/chromium"
    raise MissingBrowser(f"no Chromium found on PATH; {INSTALL_HINT}")


def require_playwright() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise MissingBrowser(f"cannot import playwright ({exc}); {INSTALL_HINT}") from exc
    return sync_playwright


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60.0, interval: float = 0.1) -> Any:
    """Poll ``check`` until it returns something truthy; raise naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while True:
        try:
            value = check()
            if value:
                return value
        except HarnessError:
            raise
        except Exception as exc:  # a page mid-reload or a server still starting
            last_exc = exc
        if time.monotonic() > deadline:
            extra = f" (last error: {last_exc!r})" if last_exc else ""
            raise HarnessError(f"timed out after {timeout:.0f} s waiting for {what}{extra}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------------------------- server


@dataclass
class JupyterServer:
    """A Jupyter server (``app`` is ``"lab"`` or ``"notebook7"``) serving ``root`` on 127.0.0.1."""

    app: str
    root: Path
    home: Path  # private config, data, runtime, settings and workspace dirs live here
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    _log: Any = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def notebook_url(self, name: str) -> str:
        # ?reset: Lab starts from an empty workspace instead of reopening the tabs of the last page.
        return f"{self.url}/lab/tree/{name}?reset" if self.app == "lab" else f"{self.url}/notebooks/{name}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "JPY_"))}
        dirs = {
            "JUPYTER_CONFIG_DIR": "config",
            "JUPYTER_DATA_DIR": "data",
            "JUPYTER_RUNTIME_DIR": "runtime",
            "JUPYTERLAB_SETTINGS_DIR": "settings",
            "JUPYTERLAB_WORKSPACES_DIR": "workspaces",
            "IPYTHONDIR": "ipython",
        }
        for var, sub in dirs.items():
            (self.home / sub).mkdir(parents=True, exist_ok=True)
            env[var] = str(self.home / sub)
        env["PYTHONUNBUFFERED"] = "1"
        # The kernels import this checkout's vidlabel, not whichever one is installed in the venv.
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
        return env

    def write_settings(self) -> None:
        for plugin, values in LAB_SETTINGS.items():
            path = self.home / "settings" / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))

    def start(self, timeout: float = 120.0) -> None:
        self.port = free_port()
        self.root.mkdir(parents=True, exist_ok=True)
        env = self.env()
        self.write_settings()
        sub = "lab" if self.app == "lab" else "notebook"
        cmd = [
            sys.executable, "-m", "jupyter", sub,
            "--no-browser", "--allow-root",
            "--ip=127.0.0.1", f"--port={self.port}", "--port-retries=0",
            "--IdentityProvider.token=", "--PasswordIdentityProvider.hashed_password=",
            f"--ServerApp.root_dir={self.root}",
            "--ServerApp.terminals_enabled=False",
            f"--LabApp.workspaces_dir={self.home / 'workspaces'}",
            f"--LabApp.user_settings_dir={self.home / 'settings'}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]  # fmt: skip
        if self.app != "lab":
            cmd = [c for c in cmd if not c.startswith("--LabApp.")]
            cmd += [f"--JupyterNotebookApp.user_settings_dir={self.home / 'settings'}",
                    f"--JupyterNotebookApp.workspaces_dir={self.home / 'workspaces'}"]  # fmt: skip
        self.log_path = self.home / "server.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            cmd, cwd=self.root, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

        def up() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise HarnessError(f"the {self.app} server exited ({self.proc.returncode})")
            return bool(self.api("/api/status"))

        try:
            wait_for(f"the {self.app} server's /api/status", up, timeout, 0.25)
        except HarnessError as exc:
            raise HarnessError(f"{exc}\n{self.log_tail()}") from None

    def log_tail(self, n: int = 4000) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_bytes()[-n:].decode(errors="replace")

    def api(self, path: str, method: str = "GET") -> Any:
        req = urllib.request.Request(self.url + path, method=method)
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read()
        return json.loads(body) if body else None

    def kernel_state(self, notebook: str) -> str | None:
        """The execution state (``idle``, ``busy``, ``starting``) of ``notebook``'s kernel, None if none."""
        for s in self.api("/api/sessions"):
            if s.get("path") == notebook and s.get("kernel"):
                return str(self.api(f"/api/kernels/{s['kernel']['id']}")["execution_state"])
        return None

    def wait_idle(self, notebook: str, timeout: float = 120.0, settle: float = 0.3) -> None:
        """Wait until the notebook's kernel reports idle, twice ``settle`` s apart (queued cells start)."""

        def idle() -> bool:
            if self.kernel_state(notebook) != "idle":
                return False
            time.sleep(settle)
            return self.kernel_state(notebook) == "idle"

        wait_for(f"the kernel of {notebook} to be idle", idle, timeout, 0.2)

    def shutdown_kernels(self) -> None:
        with contextlib.suppress(Exception):
            for k in self.api("/api/kernels"):
                with contextlib.suppress(Exception):
                    self.api(f"/api/kernels/{k['id']}", method="DELETE")

    def stop(self) -> None:
        if self.proc is None:
            return
        import psutil  # ipykernel's own dependency, so present wherever a kernel can run

        self.shutdown_kernels()
        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            children = []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        # Kernels run in sessions of their own; end any that outlived the server, by pid.
        for child in children:
            with contextlib.suppress(psutil.Error):
                child.kill()
        if self._log is not None:
            self._log.close()
        self.proc = None


@contextlib.contextmanager
def jupyter_server(app: str, root: Path, home: Path) -> Iterator[JupyterServer]:
    if app not in APPS:
        raise ValueError(f"app must be one of {APPS}, got {app!r}")
    server = JupyterServer(app, root, home)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Headless system Chromium driven by Playwright; closed on exit."""
    sync_playwright = require_playwright()
    exe = chromium_path()
    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        pw.stop()


# ----------------------------------------------------------------------------------------- notebooks


def write_notebook(path: Path, cells: list[str]) -> None:
    """A notebook of code cells (the python3 kernel) at ``path``."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nbformat.write(nb, path)


_PROMPT = re.compile(r"\[\s*([0-9]+|\*)?\s*\]")


class NotebookPage:
    """A notebook open in one app, driven like a person would: select a cell, run it, read its output."""

    def __init__(self, page: Page, server: JupyterServer, name: str) -> None:
        self.page = page
        self.server = server
        self.name = name
        self.console: list[str] = []
        self.page_errors: list[str] = []  # uncaught exceptions in the page
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", self._on_error)

    def _on_error(self, exc: Any) -> None:
        self.console.append(f"pageerror: {exc}")
        self.page_errors.append(str(exc))

    # -- opening
    def open(self, timeout: float = 180.0) -> None:
        self.page.goto(self.server.notebook_url(self.name), wait_until="domcontentloaded")
        self.page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=timeout * 1000)
        wait_for("a kernel for the notebook", lambda: self.server.kernel_state(self.name), timeout)
        self.server.wait_idle(self.name, timeout)
        self.dismiss_dialogs()

    def dismiss_dialogs(self) -> None:
        """Close any modal dialog (kernel choice, build notices) and notification toast that showed up."""
        for _ in range(3):
            dialog = self.page.locator(".jp-Dialog")
            if dialog.count() == 0:
                break
            self.console.append(f"harness: dismissed a dialog: {dialog.first.inner_text()[:200]!r}")
            accept = dialog.locator(".jp-mod-accept")
            (accept.first if accept.count() else dialog.locator("button").last).click()
            self.page.wait_for_timeout(300)
        for btn in self.page.locator(".jp-toast-button, .Toastify__close-button").all():
            with contextlib.suppress(Exception):
                btn.click(timeout=1000)

    # -- cells
    def notebook(self) -> Locator:
        """The notebook shown (Lab keeps other tabs' notebooks in the DOM, hidden)."""
        return self.page.locator(".jp-NotebookPanel").filter(visible=True).locator(".jp-Notebook")

    def cells(self) -> Locator:
        return self.notebook().locator(".jp-Cell")

    def cell(self, i: int) -> Locator:
        return self.cells().nth(i)

    def exec_count(self, i: int) -> int | str | None:
        """The cell's prompt: its execution count, ``"*"`` while queued or running, None before any run."""
        text = self.cell(i).locator(".jp-InputPrompt").inner_text()
        m = _PROMPT.search(text)
        if not m or m.group(1) is None:
            return None
        return "*" if m.group(1) == "*" else int(m.group(1))

    def select(self, i: int) -> None:
        """Select cell ``i`` in command mode by clicking its prompt area (as a person would)."""
        prompt = self.cell(i).locator(".jp-InputPrompt")
        prompt.scroll_into_view_if_needed()
        prompt.click()

    def run_cell(self, i: int, wait: bool = True, timeout: float = 180.0, check: bool = True) -> int | None:
        """Run cell ``i`` with Ctrl+Enter; with ``wait``, until its new execution count shows and the kernel
        is idle. Returns the new count. With ``check``, a traceback in the cell's output raises."""
        before = self.exec_count(i)
        self.select(i)
        self.page.keyboard.press("Control+Enter")
        if not wait:
            return None

        def done() -> int | None:
            n = self.exec_count(i)
            if isinstance(n, int) and (not isinstance(before, int) or n > before):
                return n
            return None

        n = wait_for(f"cell {i} to finish running", done, timeout, 0.1)
        self.server.wait_idle(self.name, timeout)
        if check and (err := self.output_errors(i)):
            raise HarnessError(f"cell {i} raised:\n{err}")
        return int(n)

    def output_text(self, i: int) -> str:
        return str(self.cell(i).locator(".jp-OutputArea").inner_text())

    def output_errors(self, i: int) -> str:
        """The text of the cell's error outputs (tracebacks), '' if none."""
        area = self.cell(i).locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        return "\n".join(t for t in area.all_inner_texts() if "Traceback" in t or "Error" in t)

    def run_json(self, i: int, timeout: float = 180.0) -> Any:
        """Run a cell whose last output line is JSON, and parse that line."""
        self.run_cell(i, timeout=timeout)
        text = self.output_text(i).strip()
        lines = [ln for ln in text.splitlines() if ln.strip().startswith("{")]
        if not lines:
            raise HarnessError(f"cell {i} printed no JSON; its output was:\n{text}")
        return json.loads(lines[-1])

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.page.close()
