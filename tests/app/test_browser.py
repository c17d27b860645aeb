"""End to end in real headless Chromium (Debian's, never `playwright install`) against `python app.py`.

Screenshots go to test-artifacts/ (gitignored).
"""

import os
import re

import numpy as np
import pytest
import soundfile as sf
from test_app_api import ROOT, app_server, make_models

ARTIFACTS = os.path.join(ROOT, "test-artifacts")
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        # a fake microphone (a beep) for the recording test
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


def test_chromium_is_installed():
    # `make test` installs Debian's chromium; without it the browser tests must fail, not vanish
    assert os.path.exists(CHROMIUM), f"{CHROMIUM} missing: run `make test` as root or apt-get install chromium"


@pytest.fixture(scope="module")
def url(tmp_path_factory, synth):
    root = make_models(tmp_path_factory.mktemp("ckpts"), synth)
    with app_server(root, tmp_path_factory.mktemp("log") / "app.log") as u:
        yield u


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, url):
    os.makedirs(ARTIFACTS, exist_ok=True)
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True,
                              permissions=["microphone"])
    pg = ctx.new_page()
    pg.set_default_timeout(90000)  # a bound for a hung test, not a wait: the CI machine's 2 cores are shared
    pg.goto(url)
    pg.wait_for_selector("html[data-fs-click='1'] #latent-map .nsewdrag")  # map drawn, click script loaded
    pg.wait_for_function("() => document.querySelector('#current-info').innerText.includes('origin')")
    yield pg
    ctx.close()


def info(pg) -> str:
    return pg.locator("#current-info").inner_text()


def status(pg) -> str:
    return pg.locator("#status textarea").input_value()


def wait_info(pg, text: str):
    pg.wait_for_function("(t) => document.querySelector('#current-info').innerText.includes(t)", arg=text)


def wait_status(pg, pattern: str):
    pg.wait_for_function("(p) => new RegExp(p).test(document.querySelector('#status textarea').value)",
                         arg=pattern)


def audio_href(pg, elem: str = "#current-audio") -> str:
    link = pg.locator(f"{elem} a[data-testid=download-link]").first
    link.wait_for()
    return link.get_attribute("href") or ""


def download(pg, link_selector: str, path):
    """Wait for the download link, click it as a person would, save the file at `path` -> `path`."""
    link = pg.locator(link_selector).first
    link.wait_for()
    with pg.expect_download() as dl:
        link.click()
    dl.value.save_as(path)
    return path


def fetch_size(pg, href: str) -> int:
    """Bytes the browser gets from the audio URL (the WAV the player plays)."""
    return pg.evaluate("async (u) => (await (await fetch(u)).arrayBuffer()).byteLength", href)


def current_marker(pg):
    return pg.evaluate("""() => { const gd = document.querySelector('#latent-map .js-plotly-plot');
        const t = gd.data.find(t => t.uid === 'current'); return [t.x[0], t.y[0]]; }""")


# Screen position of the most isolated point of the traces whose uid is `uid` (or starts with it when it
# ends in '*'), so that a click near it can only pick that point; `[uid, i]` leaves dataset index i out.
# -> {x, y, k, i}: k the point's number in its trace, i its customdata (dataset index) when it has one,
# dx/dy its data coordinates.
PICK_JS = """(arg) => { const [uid, skip] = Array.isArray(arg) ? arg : [arg, null];
  const gd = document.querySelector('#latent-map .js-plotly-plot');
  const fl = gd._fullLayout; const bb = gd.querySelector('.nsewdrag').getBoundingClientRect();
  const match = (t) => uid.endsWith('*') ? (t.uid || '').startsWith(uid.slice(0, -1)) : t.uid === uid;
  const pts = [];
  gd.data.forEach((t) => { if (!t.x) return;
    for (let k = 0; k < t.x.length; k++) pts.push({t, k, x: bb.left + fl.xaxis.c2p(t.x[k]),
                                                   y: bb.top + fl.yaxis.c2p(t.y[k])}); });
  let best = null, bestD = -1;
  const index = (p) => { const cd = p.t.customdata ? p.t.customdata[p.k] : null;
                         return Array.isArray(cd) ? cd[0] : cd; };
  for (const p of pts) { if (!match(p.t) || (skip !== null && index(p) === skip)) continue;
    let d = Infinity;
    for (const q of pts) if (q !== p) d = Math.min(d, Math.hypot(p.x - q.x, p.y - q.y));
    if (d > bestD) { bestD = d; best = p; } }
  return {x: best.x, y: best.y, k: best.k, i: index(best),
          dx: best.t.x[best.k], dy: best.t.y[best.k]}; }"""


# The pick again once the page has settled: the same point at the same place over two animation frames, and
# the map's drag layer on top there (outputs of the previous action can still move the layout or cover it).
SETTLED_PICK_JS = """async (uid) => { const pick = """ + PICK_JS + """;
  const frame = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  let a = pick(uid);
  for (let i = 0; i < 50; i++) {
    await frame();
    const b = pick(uid), top = document.elementFromPoint(b.x, b.y);
    if (Math.abs(a.x - b.x) < 0.5 && Math.abs(a.y - b.y) < 0.5 && a.k === b.k && top &&
        top.classList.contains('nsewdrag')) return b;
    a = b;
  }
  return a; }"""


def click_on(pg, uid: str) -> dict:
    """Click, with no pause, the most isolated point of trace(s) `uid` as the map is now (the map is first
    scrolled fully into the window when a tab's button has scrolled it partly out)."""
    pg.evaluate("() => { const m = document.querySelector('#latent-map').getBoundingClientRect();"
                "if (m.top < 0 || m.bottom > window.innerHeight)"
                "  document.querySelector('#latent-map').scrollIntoView({block: 'center'}); }")
    pos = pg.evaluate(SETTLED_PICK_JS, uid)
    pg.mouse.move(pos["x"], pos["y"])
    pg.mouse.click(pos["x"], pos["y"])
    return pos


def wait_plot(pg, condition: str, arg=None):
    """Wait for the map's plotly div to satisfy `condition` (JS on `gd`), drawn (axes ready)."""
    pg.wait_for_function("(a) => { const gd = document.querySelector('#latent-map .js-plotly-plot');"
                         "if (!gd || !gd.data || !gd._fullLayout || !gd.querySelector('.nsewdrag')) return false;"
                         f"return ({condition}); }}", arg=arg)


def wait_star_on(pg, pos: dict):
    """Wait for the overlay's star (moved by a restyle) to sit on the point `pos` from `click_on`."""
    wait_plot(pg, "(() => { const t = gd.data.find(t => t.uid === 'current');"
                  "return t.x.length && Math.abs(t.x[0] - a.dx) < 1e-3 && Math.abs(t.y[0] - a.dy) < 1e-3; })()",
              pos)


def test_load_click_point_and_empty_spot(page):
    pg = page
    assert "FlowSynth Explorer" in pg.content()
    pg.screenshot(path=os.path.join(ARTIFACTS, "01_loaded.png"))
    # a dataset dot: its name shows, the audio player gets the render, the star moves onto the dot
    dot = pg.locator("#latent-map g.trace.scatter").nth(0).locator("path.point").nth(2)  # the first dataset group
    box = dot.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    pg.mouse.move(cx, cy)
    pg.mouse.click(cx, cy)
    wait_info(pg, "(debug)")
    label = info(pg).split(" |")[0]
    assert re.match(r"(other|bass|pad|lead) \d{3} \(debug\)", label), label
    href = audio_href(pg)
    assert href.endswith(".wav") and fetch_size(pg, href) > 88200 * 2  # 4 s of 16-bit audio
    dot_xy = pg.evaluate("""() => { const gd = document.querySelector('#latent-map .js-plotly-plot');
        const t = gd.data.find(t => (t.uid || '').startsWith('ds:')); return [t.x[2], t.y[2]]; }""")
    pg.wait_for_function("(xy) => { const gd = document.querySelector('#latent-map .js-plotly-plot');"
                         "const t = gd.data.find(t => t.uid === 'current');"
                         "return t.x.length && Math.abs(t.x[0] - xy[0]) < 1e-3 && Math.abs(t.y[0] - xy[1]) < 1e-3; }",
                         arg=dot_xy)
    pg.screenshot(path=os.path.join(ARTIFACTS, "02_point.png"))
    # an empty spot near the top-left corner of the plot area: decoded from the 2-D position
    area = pg.locator("#latent-map .nsewdrag").first.bounding_box()
    pg.mouse.click(area["x"] + 6, area["y"] + 6)
    wait_info(pg, "map point (")
    x, y = current_marker(pg)
    shown = re.search(r"map point \(([-\d.]+), ([-\d.]+)\)", info(pg))
    assert abs(float(shown.group(1)) - x) < 0.02 and abs(float(shown.group(2)) - y) < 0.02
    pg.screenshot(path=os.path.join(ARTIFACTS, "03_empty_spot.png"))


# Clicks right after each kind of redraw of the map, with no pause: the click script must already be bound
# (issue 9: a click in the gap after a redraw used to be lost).

def test_click_at_once_after_first_draw(browser, url):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    pg.set_default_timeout(90000)
    try:
        pg.goto(url)
        wait_plot(pg, "gd.data.some(t => (t.uid || '').startsWith('ds:'))")  # drawn, then click at once
        pos = click_on(pg, "ds:*")
        wait_info(pg, f"{pos['i']:03d} (debug)")
    finally:
        ctx.close()


def test_colour_by_tag_then_click(page):
    pg = page
    pg.locator("#colour-by input").click()
    pg.get_by_role("option", name="tag: dark / bright").click()
    wait_plot(pg, "gd.data.some(t => (t.name || '').startsWith('bright'))")
    pos = click_on(pg, "ds:*")
    wait_info(pg, f"{pos['i']:03d} (debug)")  # debug map names end in their index
    pg.screenshot(path=os.path.join(ARTIFACTS, "08_tag_colours.png"))


def test_model_change_then_click(page):
    pg = page
    n_before = pg.evaluate("() => document.querySelector('#latent-map .js-plotly-plot')._fullLayout"
                           ".xaxis.range.join(',')")
    pg.locator("#model-choice input").click()
    pg.get_by_role("option", name="debug_30").click()
    # the 30-parameter model's map has other coordinates, hence other axis ranges
    wait_plot(pg, "gd._fullLayout.xaxis.range.join(',') !== a", n_before)
    pos = click_on(pg, "ds:*")
    wait_info(pg, f"{pos['i']:03d} (debug)")
    assert "debug_30" in info(pg)


def test_overlay_restyle_then_click(page):
    pg = page
    first = click_on(pg, "ds:*")
    wait_info(pg, f"{first['i']:03d} (debug)")
    # the star is moved onto the dot by a restyle of the overlay traces; click another dot once it is there
    wait_star_on(pg, first)
    pos = click_on(pg, "ds:*")  # the star now covers the first dot, so another one is picked
    assert pos["i"] != first["i"]
    wait_info(pg, f"{pos['i']:03d} (debug)")


def test_two_quick_clicks_keep_the_view(page):
    # two dots clicked within plotly's double-click delay (300 ms): the second click selects its own dot and
    # the map keeps its axes (plotly's default double-click re-ranged them between press and release)
    pg = page
    ranges = ("() => { const fl = document.querySelector('#latent-map .js-plotly-plot')._fullLayout;"
              " return [...fl.xaxis.range, ...fl.yaxis.range]; }")
    before = pg.evaluate(ranges)
    a = pg.evaluate(SETTLED_PICK_JS, "ds:*")
    b = pg.evaluate(PICK_JS, ["ds:*", a["i"]])  # the most isolated dot but that one
    assert b["i"] != a["i"]
    pg.mouse.click(a["x"], a["y"])
    pg.mouse.click(b["x"], b["y"])
    wait_info(pg, f"{b['i']:03d} (debug)")
    assert pg.evaluate(ranges) == before


def test_neighbourhood_then_click(page):
    pg = page
    pg.get_by_role("tab", name="Neighbourhood").click()
    pg.locator("#neigh-btn").click()
    wait_plot(pg, "gd.data.find(t => t.uid === 'neighbours').x.length === 8")
    pos = click_on(pg, "neighbours")
    wait_info(pg, f"neighbour {pos['k']} of")


def test_interpolation_path_then_click(page):
    pg = page
    pg.get_by_role("tab", name="Interpolation").click()
    for end in ("A", "B"):  # two dataset dots far apart, so that the path's steps are apart on the map
        dot = click_on(pg, "ds:*")
        wait_info(pg, f"{dot['i']:03d} (debug)")
        wait_star_on(pg, dot)
        pg.get_by_role("button", name=f"Set {end} = current sound").click()
        wait_status(pg, f"^{end} = ")
    pg.locator("#interp-btn").click()
    wait_plot(pg, "gd.data.find(t => t.uid === 'path').x.length === 6")
    pos = click_on(pg, "path")
    wait_info(pg, f"interpolation step {pos['k']}")


def test_drag_semantic_slider(page):
    pg = page
    slider = pg.locator("#sem-0 input[type=range]")
    before = float(slider.input_value())
    slider.scroll_into_view_if_needed()
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    pg.mouse.move(box["x"] + box["width"] * 0.5, y)
    pg.mouse.down()
    pg.mouse.move(box["x"] + box["width"] * 0.7, y, steps=8)
    pg.mouse.move(box["x"] + box["width"] * 0.85, y, steps=8)
    pg.mouse.up()
    wait_info(pg, "(moved)")
    after = float(slider.input_value())
    assert after > before + 1.0
    # the latent slider of the same dim follows, and the server's state agrees
    pg.locator("text=Every latent dimension").click()
    lat0 = float(pg.locator("#lat-0 input[type=range]").input_value())
    assert lat0 == pytest.approx(after, abs=0.011)
    pg.screenshot(path=os.path.join(ARTIFACTS, "04_slider.png"))


def test_upload_wav_then_export_and_read_back(page, tmp_path):
    from explorer.synth.presets import read_bank

    pg = page
    t = np.arange(44100 * 2) / 44100
    wav = tmp_path / "hum.wav"
    sf.write(wav, (0.3 * np.sign(np.sin(2 * np.pi * 196 * t))).astype(np.float32), 44100)
    pg.get_by_role("tab", name="Audio in").click()
    pg.locator("#audio-in input[type=file]").set_input_files(str(wav))
    pg.wait_for_function("() => document.querySelector('#sc-text').innerText.includes('SC =')", timeout=60000)
    assert "detected f0 19" in pg.locator("#sc-text").inner_text()
    wait_info(pg, "audio: hum.wav")
    pg.wait_for_selector("#compare-plot .js-plotly-plot")
    pg.screenshot(path=os.path.join(ARTIFACTS, "05_audio_in.png"), full_page=True)
    # the matched sound as a preset: export, download, read back
    pg.get_by_role("tab", name="Presets").click()
    pg.get_by_label("Preset name").fill("Matched hum")
    pg.locator("#export-btn").click()
    path = download(pg, "#export-files a[download$='.bank']", tmp_path / "dl.bank")
    presets = read_bank(str(path))
    assert [p.name for p in presets] == ["Matched hum"] and len(presets[0].raw) == 41
    # upload it again and place it on the map
    pg.locator("#preset-upload input[type=file]").set_input_files(str(path))
    wait_status(pg, "1 preset\\(s\\) loaded")
    pg.locator("#place-btn").click()
    wait_info(pg, "preset: 000 Matched hum")
    pg.screenshot(path=os.path.join(ARTIFACTS, "06_preset.png"), full_page=True)


def test_corrupt_upload_shows_message_and_app_goes_on(page, tmp_path):
    pg = page
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEnot really audio" + bytes(200))
    pg.get_by_role("tab", name="Audio in").click()
    pg.locator("#audio-in input[type=file]").set_input_files(str(bad))
    wait_status(pg, "Error: broken.wav: not a readable audio file")
    assert "20 MB" in status(pg) and "60 s" in status(pg)
    pg.get_by_text("broken.wav: not a readable audio file").first.wait_for()  # the warning toast
    pg.screenshot(path=os.path.join(ARTIFACTS, "07_corrupt.png"))
    # a bad preset file too
    pg.get_by_role("tab", name="Presets").click()
    junk = tmp_path / "junk.bank"
    junk.write_text("this is not a bank\n")
    pg.locator("#preset-upload input[type=file]").set_input_files(str(junk))
    wait_status(pg, "Error: junk.bank: .*not an amsynth bank")
    # the next action works
    area = pg.locator("#latent-map .nsewdrag").first.bounding_box()
    pg.mouse.click(area["x"] + area["width"] / 2, area["y"] + area["height"] - 8)
    wait_info(pg, "map point (")


def test_record_with_the_microphone(page):
    pg = page
    pg.get_by_role("tab", name="Audio in").click()
    pg.locator("#audio-in button[aria-label='Record audio']").click()
    pg.locator("#audio-in button", has_text="Record").first.click()
    pg.wait_for_timeout(2000)  # the length of the recording (the fake microphone beeps), not a sync wait
    pg.locator("#audio-in button:visible", has_text="Stop").first.click()
    wait_status(pg, "SC = ")
    assert "detected f0" in status(pg) or "no pitch" in status(pg)
    wait_info(pg, "audio: ")


def test_audio_in_candidate_list_play_make_current_refine_cancel(page, tmp_path):
    """Upload -> ranked candidate table, candidates on the map, play one, make it current, refine
    (best so far shown as it goes), and cancel a long refinement (its best so far is kept)."""
    pg = page
    t = np.arange(22050 * 3) / 22050
    wav = tmp_path / "saw.wav"
    sf.write(wav, (0.2 * (2 * ((220 * t) % 1.0) - 1)).astype(np.float32), 22050)
    pg.get_by_role("tab", name="Audio in").click()
    pg.locator("#audio-in input[type=file]").set_input_files(str(wav))
    pg.wait_for_function("() => document.querySelector('#candidate-table').innerText.includes('nearest (log-mel)')",
                         timeout=60000)
    table = pg.locator("#candidate-table").inner_text()
    assert "c0" in table and "model" in table and "note 57" in pg.locator("#sc-text").inner_text()
    n_rows = len(set(re.findall(r"\bc\d+\b", table)))
    wait_plot(pg, "gd.data.find(t => t.uid === 'candidates').x.length === a", n_rows)  # green triangles
    pg.locator("#candidate-choice input").click()
    pg.get_by_role("option", name="c1", exact=True).click()
    wait_status(pg, "^candidate c1$")
    href = audio_href(pg, "#candidate-audio")
    assert href.endswith(".wav") and fetch_size(pg, href) > 88200 * 2
    pg.locator("#candidate-go").click()
    wait_info(pg, "candidate c1")
    pg.screenshot(path=os.path.join(ARTIFACTS, "07_candidates.png"), full_page=True)
    # a short refinement: its row joins the table
    pg.locator("#refine-btn").click()
    pg.wait_for_function("() => document.querySelector('#sc-text').innerText.includes('refined with 100')",
                         timeout=120000)
    assert "refined" in pg.locator("#candidate-table").inner_text()
    # a long one, cancelled once its best so far shows
    box = pg.locator("#refine-budget input[type=number]")
    box.fill("500")
    box.press("Enter")
    pg.locator("#refine-btn").click()
    pg.wait_for_function("() => document.querySelector('#sc-text').innerText.includes('best so far')", timeout=60000)
    pg.locator("#refine-cancel").click()
    pg.wait_for_function("() => document.querySelector('#sc-text').innerText.includes('cancelled after')",
                         timeout=60000)
    pg.screenshot(path=os.path.join(ARTIFACTS, "08_refine_cancelled.png"), full_page=True)
