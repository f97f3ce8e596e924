"""The viewer page driven in headless Chromium: it loads without a console error, draws, the slider
changes the picture, and clicking an agent after choosing a rollout shows that agent's numbers.

Needs Debian's `chromium` and `chromium-driver` (scripts/test.sh installs them where it can) and the
`selenium` package (the dev extra); skipped with the reason otherwise.
"""

from __future__ import annotations

import shutil
import time

import pytest

from smartr1.metrics.per_agent import scenario_diagnostics
from smartr1.reports.view import write_view
from tests.conftest import golden_rollouts, write_golden_inputs

DRIVER = shutil.which("chromedriver")
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (dev extra)")
    if not (DRIVER and BROWSER):
        pytest.skip("headless Chromium not found (apt-get install chromium chromium-driver)")
    from selenium.webdriver.chrome.service import Service  # optional dependency, only for this test

    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        opts.add_argument(arg)
    opts.add_argument("--window-size=1400,850")
    opts.binary_location = BROWSER
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def page(tmp_path_factory, real_scenarios):
    """The two real WOSAC scenes, two models (constant velocity, logged noisy), 32 rollouts each."""
    d = tmp_path_factory.mktemp("browser")
    scenes, subs = write_golden_inputs(d, real_scenarios)
    return write_view(scenes, subs, ["cv", "noisy"], d / "view.html")


def canvas_png(driver) -> str:
    return driver.execute_script("return document.querySelector('#stage canvas').toDataURL()")


def test_page_loads_draws_scrubs_and_shows_the_clicked_agent(browser, page, real_scenarios):
    from selenium.webdriver.common.action_chains import ActionChains  # optional dependency
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    browser.get(page.resolve().as_uri())
    deadline = time.time() + 20
    while browser.execute_script("return document.body.dataset.ready") != "1":
        assert time.time() < deadline, "page never became ready"
        time.sleep(0.05)
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe

    # the canvas is not blank: many pixels differ from the background colour
    painted = browser.execute_script(
        """const c = document.querySelector('#stage canvas'), g = c.getContext('2d');
        const px = g.getImageData(0, 0, c.width, c.height).data, bg = [0xec, 0xeb, 0xe6]; let n = 0;
        for (let i = 0; i < px.length; i += 4) if (Math.abs(px[i] - bg[0]) + Math.abs(px[i+1] - bg[1]) + Math.abs(px[i+2] - bg[2]) > 30) n++;
        return n / (px.length / 4);"""
    )
    assert painted > 0.02, painted

    # moving the slider (keyboard, as a user would) changes the step and the picture
    before = canvas_png(browser)
    slider = browser.find_element(By.ID, "slider")
    slider.send_keys(*([Keys.ARROW_RIGHT] * 25))
    assert browser.execute_script("return window.smartr1View.state.step") == 35
    assert canvas_png(browser) != before

    # choose rollout 5 of the second model, then click an evaluated agent
    Select(browser.find_element(By.ID, "model")).select_by_visible_text("noisy")
    Select(browser.find_element(By.ID, "rollout")).select_by_value("5")
    scene_id, agent, object_id = browser.execute_script(
        """const V = window.smartr1View, S = V.state, sc = V.DATA.scenes[S.scene];
        for (let a = 0; a < sc.log.id.length; a++) if (sc.eval[a] && a !== sc.sdc) return [sc.id, a, sc.log.id[a]];"""
    )
    x, y = browser.execute_script(f"return window.smartr1View.agentScreen({agent})")
    canvas = browser.find_element(By.CSS_SELECTOR, "#stage canvas")
    w, h = canvas.size["width"], canvas.size["height"]
    ActionChains(browser).move_to_element_with_offset(canvas, x - w / 2, y - h / 2).click().perform()
    head = browser.find_element(By.CSS_SELECTOR, "#panel h2")
    assert head.get_attribute("data-agent") == str(object_id)

    # the panel shows this agent's numbers from the per-agent export, for both models
    s = real_scenarios[scene_id]
    for m, kind in enumerate(("constant_velocity", "logged_noisy")):
        ref = scenario_diagnostics(s, golden_rollouts(scene_id, kind)).to_json()
        e = ref["object_id"].index(object_id)
        for comp, vals in ref["likelihood"].items():
            cell = browser.find_element(By.CSS_SELECTOR, f'#panel td[data-model="{m}"][data-comp="{comp}"]')
            shown = "–" if vals[e] is None else f"{vals[e]:.3f}"
            assert cell.text.strip() == shown, (kind, comp)
        cell = browser.find_element(By.CSS_SELECTOR, f'#panel td[data-model="{m}"][data-comp="min_ade"]')
        assert cell.text.strip() == f"{ref['min_ade'][e]:.2f}"
        for ev, steps in ref["first_step"].items():
            n = sum(s >= 0 for s in steps[e])
            assert f"{ev.replace('_', ' ')} {n}/32" in browser.find_element(By.ID, "panel").text
    assert not [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
