"""The browser harness itself, on a tiny inline anywidget: it renders in the app, a click in the page reaches
the kernel, a cell-side change reaches the page. If this fails, the Annotator's browser test cannot be
trusted either way."""

from __future__ import annotations

from .conftest import AppSession
from .harness import NotebookPage, wait_for, write_notebook

PROBE = '''
import json
import anywidget
import traitlets

class Probe(anywidget.AnyWidget):
    _esm = """
    function render({ model, el }) {
      const c = document.createElement("canvas");
      c.width = 160; c.height = 80; c.className = "probe-canvas";
      el.classList.add("probe");
      const draw = () => {
        const g = c.getContext("2d");
        g.fillStyle = model.get("clicks") % 2 ? "#c03020" : "#2040a0";
        g.fillRect(0, 0, c.width, c.height);
        el.dataset.clicks = String(model.get("clicks"));
      };
      c.addEventListener("click", () => {
        model.set("clicks", model.get("clicks") + 1);
        model.save_changes();
      });
      model.on("change:clicks", draw);
      draw();
      el.appendChild(c);
    }
    export default { render };
    """
    clicks = traitlets.Int(0).tag(sync=True)

probe = Probe()
probe
'''

PIXEL = """([x, y]) => {
  const c = document.querySelector("canvas.probe-canvas");
  return Array.from(c.getContext("2d").getImageData(x, y, 1, 1).data.slice(0, 3));
}"""


def test_probe_widget_round_trip(app_session: AppSession) -> None:
    s = app_session
    write_notebook(s.server.root / "probe.ipynb", [PROBE, 'print(json.dumps({"clicks": probe.clicks}))',
                                                    "probe.clicks = 41"])  # fmt: skip
    nb = NotebookPage(s.browser.new_page(viewport={"width": 1280, "height": 900}), s.server, "probe.ipynb")
    try:
        nb.open()
        nb.run_cell(0)
        nb.page.wait_for_selector(".probe[data-clicks='0']", timeout=60_000)
        assert nb.page.evaluate(PIXEL, [5, 5]) == [0x20, 0x40, 0xA0]

        nb.page.locator("canvas.probe-canvas").click()
        nb.page.wait_for_selector(".probe[data-clicks='1']", timeout=30_000)
        assert nb.page.evaluate(PIXEL, [5, 5]) == [0xC0, 0x30, 0x20]
        wait_for("the kernel to hold the click", lambda: nb.run_json(1)["clicks"] == 1, 60, 0.5)

        nb.run_cell(2)
        nb.page.wait_for_selector(".probe[data-clicks='41']", timeout=30_000)
        nb.screenshot(s.out / "00-probe.png")
        print(f"[{s.app}] probe widget: rendered, click reached the kernel, cell edit reached the page")
    finally:
        s.server.shutdown_kernels()
        nb.close()
