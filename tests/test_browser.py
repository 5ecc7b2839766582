"""The app in a real browser: Playwright driving Debian's Chromium against a server on 127.0.0.1.

Screenshots are saved under ``test-artifacts/`` at the repository root.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import REPO, draw_shapes

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--no-first-run", "--disable-component-update",
                 "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.goto(app_url[0])
    page.wait_for_selector("#translate", timeout=60_000)
    yield page
    context.close()


def test_upload_translate_and_download(page, app_url, tmp_path):
    source = tmp_path / "holiday photo.png"
    draw_shapes(source, (93, 61), 5)
    page.locator("#input-image input[type=file]").set_input_files(str(source))
    page.locator("#direction").get_by_text("B → A").click()
    page.locator("#translate").click()

    image = page.locator("#result img")
    image.wait_for(state="visible", timeout=60_000)
    response = page.request.get(image.get_attribute("src"))
    with Image.open(io.BytesIO(response.body())) as shown:
        assert shown.size == (93, 61)

    with page.expect_download(timeout=30_000) as download_info:
        page.locator("#result").get_by_role("button", name="Download").click()
    downloaded = tmp_path / "downloaded.png"
    download_info.value.save_as(downloaded)
    with Image.open(downloaded) as saved:
        assert saved.format == "PNG"
        assert saved.size == (93, 61)

    page.locator("#comparison img").first.wait_for(state="visible", timeout=30_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app-translated.png"), full_page=True)


def test_text_file_shows_error_in_page(page, tmp_path):
    source = tmp_path / "shopping list.png"
    source.write_text("milk, eggs, bread")
    page.locator("#input-image input[type=file]").set_input_files(str(source))
    page.locator("#translate").click()
    message = page.get_by_text("is not an image this app can read").first
    message.wait_for(state="visible", timeout=60_000)
    assert "shopping list.png" in message.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app-error.png"), full_page=True)


def test_model_card_summary_is_shown(page):
    summary = page.locator("#model-summary")
    assert "Noto" in summary.inner_text()
    assert "working resolution" in summary.inner_text()
