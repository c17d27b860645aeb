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
    pg.set_default_timeout(45000)  # generous: the CI machine's 2 cores are shared
    pg.goto(url)
    pg.wait_for_selector("#latent-map [data-fs-bound='1']")  # map drawn and click script bound
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


def fetch_size(pg, href: str) -> int:
    """Bytes the browser gets from the audio URL (the WAV the player plays)."""
    return pg.evaluate("async (u) => (await (await fetch(u)).arrayBuffer()).byteLength", href)


def current_marker(pg):
    return pg.evaluate("""() => { const gd = document.querySelector('#latent-map .js-plotly-plot');
        const t = gd.data.find(t => t.uid === 'current'); return [t.x[0], t.y[0]]; }""")


def test_load_click_point_and_empty_spot(page):
    pg = page
    assert "FlowSynth Explorer" in pg.content()
    pg.screenshot(path=os.path.join(ARTIFACTS, "01_loaded.png"))
    # a dataset dot: its name shows, the audio player gets the render, the star moves onto the dot
    dot = pg.locator("#latent-map g.trace.scatter").nth(1).locator("path.point").nth(2)
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
        const t = gd.data.find(t => t.uid === 'ds:0'); return [t.x[2], t.y[2]]; }""")
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


def test_colour_by_tag_then_click(page):
    pg = page
    pg.locator("#colour-by input").click()
    pg.get_by_role("option", name="tag: dark / bright").click()
    pg.wait_for_function("() => document.querySelector('#latent-map .js-plotly-plot').data"
                         ".some(t => (t.name || '').startsWith('bright'))")
    pos = pg.evaluate("""() => { const gd = document.querySelector('#latent-map .js-plotly-plot');
      const t = gd.data.find(t => (t.name || '').startsWith('bright')); const fl = gd._fullLayout;
      const bb = gd.querySelector('.nsewdrag').getBoundingClientRect();
      return {x: bb.left + fl.xaxis.c2p(t.x[0]), y: bb.top + fl.yaxis.c2p(t.y[0]), i: t.customdata[0]}; }""")
    pg.mouse.move(pos["x"], pos["y"])
    pg.mouse.click(pos["x"], pos["y"])
    wait_info(pg, "(debug)")  # the click script survives the map being redrawn
    assert f"{pos['i']:03d} (debug)" in info(pg)  # debug map names end in their index
    pg.screenshot(path=os.path.join(ARTIFACTS, "08_tag_colours.png"))


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
    link = pg.locator("#export-files a[download$='.bank']").first
    link.wait_for()
    with pg.expect_download() as dl:
        link.click()
    path = tmp_path / "dl.bank"
    dl.value.save_as(path)
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
    pg.wait_for_timeout(2000)
    pg.locator("#audio-in button:visible", has_text="Stop").first.click()
    wait_status(pg, "SC = ")
    assert "detected f0" in status(pg) or "no pitch" in status(pg)
    wait_info(pg, "audio: ")
