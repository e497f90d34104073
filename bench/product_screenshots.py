"""Screenshots of the running product (real LLM, MovieLens demo) for the README.

Start the product (`make run`), then: `.venv/bin/python -m bench.product_screenshots`.
It signs in as a MovieLens user in Debian's chromium, asks for recommendations, waits
for every reason, presses Why?, thumbs one card down and captures the profile panel.
The browser test (tests/integration/test_ui_browser.py) checks the same flow on fakes.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 120_000


def capture(url: str, user: str, out: Path = OUT) -> list[Path]:
    from playwright.sync_api import expect, sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("Debian's chromium is missing: apt-get install -y chromium (make setup does it)")
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1300})

        def shot(name: str, part=None) -> None:
            path = out / name
            (part or page).screenshot(path=str(path), **({} if part else {"full_page": True}))
            written.append(path)

        page.goto(f"{url.rstrip('/')}/ui/")
        picker = page.locator("#user-picker input")
        picker.fill(user)
        picker.press("Enter")
        expect(page.locator("#chat")).to_contain_text(f"Signed in as {user}", timeout=WAIT_MS)
        page.locator("#chat-input textarea").fill("Could you recommend a few films for tonight?")
        page.locator("#chat-input textarea").press("Enter")
        cards = page.locator(".sr-card")
        expect(cards.first).to_be_visible(timeout=WAIT_MS)
        expect(page.locator(".sr-pending")).to_have_count(0, timeout=WAIT_MS)
        shot("product-recommendations.png")
        page.locator("#card-0 button.sr-why").click()
        expect(page.locator("#card-0 .sr-why-answer textarea")).not_to_have_value("", timeout=WAIT_MS)
        shot("product-why.png")
        page.locator("#card-1 button.sr-down").click()
        expect(page.locator("#chat")).to_contain_text("fewer picks like", timeout=WAIT_MS)
        expect(page.locator(".sr-pending")).to_have_count(0, timeout=WAIT_MS)
        shot("product-after-thumbs-down.png")
        expect(page.locator("#profile")).to_contain_text("Predicted shift", timeout=WAIT_MS)
        shot("product-profile-trajectory.png", page.locator("#profile-panel"))
        browser.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="Where `shiftrec serve` listens.")
    parser.add_argument("--user", default="7", help="A MovieLens-100K user id of the demo.")
    args = parser.parse_args()
    for path in capture(args.url, args.user):
        print(path)


if __name__ == "__main__":
    main()
