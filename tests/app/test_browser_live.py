"""Issue 14's controls end to end in real headless Chromium against `python app.py` (debug models, tiny
maps of real renders): live slider drag, note / keyboard, find, A/B, history, favourites bank export.

Every wait is a condition on the page; the mouse is held down while the drag's live update is awaited.
"""

import os
import re

import test_browser
from test_browser import (
    ARTIFACTS,
    click_on,
    download,
    info,
    status,
    wait_info,
    wait_plot,
    wait_star_on,
    wait_status,
)

# the browser tests' fixtures: a running app (debug models), Chromium, a fresh page per test
browser, url, page = test_browser.browser, test_browser.url, test_browser.page

MEL_TITLE = "() => { const t = document.querySelector('#current-mel .gtitle'); return t ? t.textContent : ''; }"


STAR = ("() => { const gd = document.querySelector('#latent-map .js-plotly-plot');"
        "const t = gd.data.find(t => t.uid === 'current'); return [t.x[0], t.y[0]]; }")
BARS = ("() => { const gd = document.querySelector('#current-params .js-plotly-plot');"
        "return gd && gd.data ? gd.data[0].y : null; }")


def test_slider_drag_updates_while_the_mouse_is_down(page):
    pg = page
    star0 = pg.evaluate(STAR)
    slider = pg.locator("#sem-0 input[type=range]")
    slider.scroll_into_view_if_needed()
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    pg.mouse.move(box["x"] + box["width"] * 0.5, y)
    pg.mouse.down()
    bars0 = pg.evaluate(BARS)
    pg.mouse.move(box["x"] + box["width"] * 0.75, y, steps=10)
    # still held: the info line, the model's log-mel, the parameter bars and the star follow the drag
    pg.wait_for_function(f"() => ({MEL_TITLE})().includes('drag preview') && ({MEL_TITLE})().includes('(dragging)')")
    pg.wait_for_function(f"(b) => JSON.stringify(({BARS})()) !== JSON.stringify(b)", arg=bars0)
    # the dragged sound's marker (an element over the map: no WebGL redraw); the red star stays on the
    # committed sound until the release
    pg.wait_for_function("() => { const m = document.getElementById('fs-drag-marker');"
                         "return m && m.style.display === 'block' && m.dataset.x; }")
    assert pg.evaluate(STAR) == star0
    n1, bars1 = pg.evaluate("() => window.fsDragApplied"), pg.evaluate(BARS)
    pg.mouse.move(box["x"] + box["width"] * 0.9, y, steps=10)
    # more updates during the same drag (the tiny debug map may not move the star by a shown digit)
    pg.wait_for_function(f"(b) => JSON.stringify(({BARS})()) !== JSON.stringify(b)", arg=bars1)
    assert pg.evaluate("() => window.fsDragApplied") > n1
    pg.screenshot(path=os.path.join(ARTIFACTS, "20_dragging.png"))
    pg.mouse.up()
    # the release renders with the real synth: the log-mel is the render's, and the sliders agree; the
    # drag's marker goes, the star moves
    wait_info(pg, "(moved)")
    pg.wait_for_function("() => document.getElementById('fs-drag-marker').style.display === 'none'")
    pg.wait_for_function(f"() => ({MEL_TITLE})().includes('(moved)') && "
                         f"!({MEL_TITLE})().includes('drag preview')")
    assert float(slider.input_value()) > 2.0


def test_note_keyboard_and_computer_keys(page):
    pg = page
    pg.wait_for_selector("html[data-fs-keys='1'] #fs-keyboard [data-note='72']")
    before = pg.locator("#current-audio a[data-testid=download-link]").first.get_attribute("href")
    pg.locator("#fs-keyboard [data-note='72']").click()
    wait_status(pg, "at note 72 \\(C5\\)")
    wait_info(pg, "note 72")
    pg.wait_for_function("(b) => { const a = document.querySelector('#current-audio a[data-testid=download-link]');"
                         "return a && a.getAttribute('href') !== b; }", arg=before)
    assert pg.locator("#note input[type=number]").input_value() == "72"
    # computer keys: j = B4 (71) while no text field has the focus
    pg.locator("#current-info").click()
    pg.keyboard.press("j")
    wait_status(pg, "at note 71 \\(B4\\)")
    # the next sound selected on the map plays at that note too
    pos = click_on(pg, "ds:*")
    wait_info(pg, f"{pos['i']:03d} (debug)")
    wait_info(pg, "note 71")
    pg.screenshot(path=os.path.join(ARTIFACTS, "21_note.png"))


def test_find_selects_and_centres_the_map(page):
    pg = page
    pg.locator("#find-query textarea, #find-query input").first.fill("debug 007")
    pg.locator("#find-query textarea, #find-query input").first.press("Enter")
    wait_status(pg, "sound\\(s\\) match")
    pg.locator("#find-results input").click()
    pg.get_by_role("option").first.click()
    wait_info(pg, "007 (debug)")
    # centred: the middle of the axes' ranges is the dot
    wait_plot(pg, "(() => { const t = gd.data.find(t => t.uid === 'current'); if (!t.x.length) return false;"
                  "const xr = gd._fullLayout.xaxis.range, yr = gd._fullLayout.yaxis.range;"
                  "return Math.abs((xr[0] + xr[1]) / 2 - t.x[0]) < 0.01 * Math.abs(xr[1] - xr[0])"
                  " && Math.abs((yr[0] + yr[1]) / 2 - t.y[0]) < 0.01 * Math.abs(yr[1] - yr[0]); })()")
    pg.screenshot(path=os.path.join(ARTIFACTS, "22_find.png"))
    pg.locator("#find-query textarea, #find-query input").first.fill("zzz no such preset")
    pg.locator("#find-query textarea, #find-query input").first.press("Enter")
    wait_status(pg, "nothing matches")


def test_ab_original_beside_the_model(page):
    pg = page
    pos = click_on(pg, "ds:*")
    wait_info(pg, f"{pos['i']:03d} (debug)")
    pg.get_by_role("tab", name="A/B").click()
    pg.locator("#ab-btn").click()
    pg.wait_for_function("() => document.querySelector('#ab-text').innerText.includes('SC(A, B)')")
    text = pg.locator("#ab-text").inner_text()
    assert f"{pos['i']:03d}" in text and "original preset" in text
    for elem in ("#ab-a", "#ab-b"):
        pg.locator(f"{elem} a[data-testid=download-link]").first.wait_for()
    pg.wait_for_selector("#ab-plot .js-plotly-plot")
    pg.screenshot(path=os.path.join(ARTIFACTS, "23_ab.png"), full_page=True)
    # an empty spot has no original: a clear message, and the app goes on
    pg.locator("#latent-map .nsewdrag").first.scroll_into_view_if_needed()  # the tab's button scrolled down
    area = pg.locator("#latent-map .nsewdrag").first.bounding_box()
    pg.mouse.click(area["x"] + 6, area["y"] + 6)
    wait_info(pg, "map point (")
    pg.locator("#ab-btn").click()
    wait_status(pg, "Error: .*made in the latent space")


def test_history_back_and_forward(page):
    pg = page
    labels = []
    for _ in range(2):
        pos = click_on(pg, "ds:*")
        wait_info(pg, f"{pos['i']:03d} (debug)")
        wait_star_on(pg, pos)
        labels.append(info(pg).split(" |")[0])
    pg.locator("#hist-back").click()
    wait_info(pg, labels[0])
    pg.locator("#hist-forward").click()
    wait_info(pg, labels[1])
    pg.locator("#hist-forward").click()
    wait_status(pg, "Error: nothing further forward")


def test_favourites_export_one_bank_read_back(page, tmp_path):
    from explorer.synth.presets import read_bank

    pg = page
    names = []
    for _ in range(2):
        pg.locator("#latent-map").scroll_into_view_if_needed()  # the button below may have scrolled it
        pos = click_on(pg, "ds:*")
        wait_info(pg, f"{pos['i']:03d} (debug)")
        wait_star_on(pg, pos)  # the star covers this dot, so the next click_on picks another
        names.append(info(pg).split(" |")[0])
        pg.locator("#fav-add").click()
        wait_status(pg, f"kept .*\\({len(names)} favourite")
    pg.get_by_role("tab", name="Keep").click()
    pg.locator("#fav-export").click()
    path = download(pg, "#fav-files a[download$='.bank']", tmp_path / "favourites.bank")
    presets = read_bank(str(path))
    assert [p.name for p in presets] == names and all(len(p.raw) == 41 for p in presets)
    assert re.search(r"exported 2 favourite", status(pg))
    pg.screenshot(path=os.path.join(ARTIFACTS, "24_favourites.png"), full_page=True)
