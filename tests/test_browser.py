"""JupyterLab as a person uses it: a notebook opened in headless Chromium, run from the Run menu, a slider moved with
the keyboard, and the explorer's picture redrawn. Screenshots go to build/test-artifacts/.

Needs Chromium, its driver and Selenium (`make test-browser` installs them; on Debian: `apt-get install chromium
chromium-driver`); skipped with that advice where they are missing.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import papermill
import pytest

from fer_lib.notebook_runner import NOTEBOOKS_DIR
from fer_lib.paths import REPO_ROOT
from fer_lib.report import write_json_atomic

pytestmark = pytest.mark.browser

ARTIFACTS = REPO_ROOT / "build" / "test-artifacts"
# notebook -> the description of the explorer slider the test moves
SLIDERS = {"02_mae_pretraining": "mask ratio", "06_semi_supervised": "threshold"}
RUN_SECONDS = 300      # to run every cell of a notebook at the smoke profile
INSTALL = "run `make test-browser`, or install them: apt-get install chromium chromium-driver; pip install selenium"

webdriver = pytest.importorskip("selenium.webdriver", reason=f"selenium is not installed: {INSTALL}")
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
CHROMEDRIVER = shutil.which("chromedriver")
if CHROMIUM is None or CHROMEDRIVER is None:
    pytest.skip(f"no headless browser (chromium: {CHROMIUM}, chromedriver: {CHROMEDRIVER}): {INSTALL}",
                allow_module_level=True)

# JupyterLab settings of a fresh user who ticked "Always start the preferred kernel" and declined news and update
# pop-ups; every cell is kept in the page (no windowing), so the test sees each cell's prompt.
LAB_SETTINGS = {"@jupyterlab/apputils-extension/notification.jupyterlab-settings":
                {"fetchNews": "false", "checkForUpdates": False},
                "@jupyterlab/notebook-extension/tracker.jupyterlab-settings":
                {"autoStartDefaultKernel": True, "windowingMode": "none"}}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition: Callable[[], Any], seconds: float, what: str, interval: float = 0.5) -> Any:
    """Poll `condition` until it returns something truthy; fail naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    pytest.fail(f"timed out after {seconds:.0f} s waiting for {what}")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """JupyterLab on a free localhost port with a token, serving copies of the notebooks prepared at `smoke`; its
    kernels write runs to a temporary folder. Yields the base URL."""
    root = tmp_path_factory.mktemp("lab")
    for name in SLIDERS:
        papermill.execute_notebook(NOTEBOOKS_DIR / f"{name}.ipynb", root / f"{name}.ipynb",
                                   parameters={"profile": "smoke"}, prepare_only=True, progress_bar=False)
    settings = tmp_path_factory.mktemp("lab-settings")
    for relative, values in LAB_SETTINGS.items():
        (settings / relative).parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(settings / relative, values)
    port, token = free_port(), os.urandom(12).hex()
    environment = {**os.environ, "FER_SSL_RUNS": str(tmp_path_factory.mktemp("runs")), "TQDM_DISABLE": "1",
                   "JUPYTERLAB_SETTINGS_DIR": str(settings),
                   "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path_factory.mktemp("lab-workspaces")),
                   "JUPYTER_RUNTIME_DIR": str(tmp_path_factory.mktemp("jupyter-runtime"))}
    log = open(root.parent / "jupyterlab.log", "w")
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
               "--LabApp.extension_manager=readonly"] + (["--allow-root"] if os.geteuid() == 0 else [])
    server = subprocess.Popen(command, cwd=root, env=environment, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2).status == 200
        except OSError:
            return server.poll() is not None     # exited: stop waiting, the check below fails
    try:
        wait_for(answers, 60, "JupyterLab to start")
        assert server.poll() is None, f"JupyterLab exited; see {log.name}"
        yield f"{base}/lab/tree/{{notebook}}.ipynb?reset&token={token}"     # reset: no tabs of an earlier test
    finally:
        shut_down(server, f"{base}/api/shutdown?token={token}")
        log.close()


def shut_down(server: subprocess.Popen, shutdown_url: str) -> None:
    """Stop JupyterLab and its kernels: ask it through its API, then terminate it, then kill it."""
    try:
        urllib.request.urlopen(urllib.request.Request(shutdown_url, method="POST"), timeout=10)
    except OSError:
        server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:                       # it may hang after its kernels are gone
        server.kill()
        server.wait()


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    """Headless Chromium (Debian's, as root without its sandbox), a window large enough for the notebook."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1400,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def menu(driver: webdriver.Chrome, *labels: str) -> None:
    """Click through the menu bar as a person would: e.g. menu(driver, "Run", "Run All Cells")."""
    top = wait_for(lambda: [item for item in driver.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-itemLabel")
                            if item.text == labels[0]], 30, f"the menu {labels[0]!r}")
    top[0].click()
    for label in labels[1:]:
        entry = wait_for(lambda: [item for item in driver.find_elements(By.CSS_SELECTOR, ".lm-Menu-itemLabel")
                                  if item.text == label and item.is_displayed()], 10, f"the menu entry {label!r}")
        entry[0].click()


CURRENT_NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"    # the notebook of the active tab


def failed_output(driver: webdriver.Chrome) -> str:
    """The text of the first error output in the current notebook, or ""."""
    errors = driver.find_elements(By.CSS_SELECTOR, f"{CURRENT_NOTEBOOK} .jp-OutputArea-output"
                                                   '[data-mime-type="application/vnd.jupyter.stderr"]')
    return next((error.text for error in errors
                 if "Traceback" in error.text or "Error" in error.text.split("\n")[0]), "")


def ran_every_cell(driver: webdriver.Chrome) -> bool:
    """True once every code cell of the current notebook shows an execution count ([n]: rather than [ ]: or [*]:);
    fails on an error or on a dialog that waits for an answer."""
    error = failed_output(driver)
    if error:
        pytest.fail(f"a cell failed in JupyterLab:\n{error[:2000]}")
    dialogs = [dialog.text for dialog in driver.find_elements(By.CSS_SELECTOR, ".jp-Dialog") if dialog.is_displayed()]
    if dialogs:
        pytest.fail(f"JupyterLab shows a dialog: {dialogs[0]}")
    prompts = [prompt.text for prompt in
               driver.find_elements(By.CSS_SELECTOR, f"{CURRENT_NOTEBOOK} .jp-CodeCell .jp-InputPrompt")]
    return bool(prompts) and all(prompt.strip("[]: ").isdigit() for prompt in prompts)


def slider_named(driver: webdriver.Chrome, description: str) -> WebElement:
    """The slider widget of the current notebook whose description is `description`."""
    return next(slider for slider in driver.find_elements(By.CSS_SELECTOR, f"{CURRENT_NOTEBOOK} .widget-slider")
                if slider.find_element(By.CSS_SELECTOR, ".widget-label").text == description)


def redrawn_images(cell: WebElement) -> list[str]:
    """The src of each picture the explorer's output widget holds in `cell`."""
    return [image.get_attribute("src") for image in cell.find_elements(By.CSS_SELECTOR, ".widget-output img")]


@pytest.mark.parametrize("notebook", list(SLIDERS))
def test_a_slider_moved_in_jupyterlab_redraws_the_explorer_picture(lab: str, browser: webdriver.Chrome,
                                                                   notebook: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / f"browser-{notebook}"
    for earlier in ARTIFACTS.glob(f"{screenshot.name}-*.png"):
        earlier.unlink()
    try:
        browser.get(lab.format(notebook=notebook))
        wait_for(lambda: any("| Idle" in bar.text for bar in browser.find_elements(By.ID, "jp-main-statusbar")), 90,
                 f"{notebook} to open with an idle kernel")
        menu(browser, "Run", "Run All Cells")
        wait_for(lambda: ran_every_cell(browser), RUN_SECONDS, f"every cell of {notebook} to run", interval=2)

        slider = slider_named(browser, SLIDERS[notebook])
        cell = slider.find_element(By.XPATH, "./ancestor::div[contains(@class, 'jp-CodeCell')]")
        drawn_once = cell.find_element(By.CSS_SELECTOR, ".jp-OutputArea-output img").get_attribute("src")
        readout = slider.find_element(By.CSS_SELECTOR, ".widget-readout")
        start_value = readout.text
        handle = slider.find_element(By.CSS_SELECTOR, ".noUi-handle")
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].focus();", handle)
        browser.save_screenshot(f"{screenshot}-before.png")
        assert redrawn_images(cell) == [], "the explorer drew into its output before a control moved"

        handle.send_keys(Keys.ARROW_RIGHT)
        first = wait_for(lambda: redrawn_images(cell), 60, "the explorer to redraw after the first move")[0]
        assert readout.text != start_value, f"the slider's value stayed at {start_value}"
        assert first != drawn_once, "the picture did not change when the slider moved"
        handle.send_keys(Keys.ARROW_RIGHT)
        wait_for(lambda: redrawn_images(cell) and redrawn_images(cell)[0] != first, 60,
                 "the explorer to redraw after the second move")
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", handle)
        browser.save_screenshot(f"{screenshot}-after.png")
    except (AssertionError, WebDriverException, pytest.fail.Exception):
        browser.save_screenshot(f"{screenshot}-failed.png")
        raise
