"""Screenshots of the ward station's pages for the README, made from the demo.

Runs `edge-agent demo` (the bundled clip through a private mosquitto into a demo station), then
drives Debian's chromium with Playwright through the pages as each role and saves small PNGs in
docs/screenshots/. Needs mosquitto, chromium (apt) and playwright (pip; never `playwright install`).

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edge_agent.agent.demo import run_demo  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
# every picture in view has loaded (at most 5 s): lazy ones below the fold never will
LOADED = """Promise.race([
  new Promise(r => setTimeout(r, 5000)),
  Promise.all([...document.images].filter(i => i.getBoundingClientRect().top < innerHeight)
    .map(i => i.complete || new Promise(r => { i.onload = r; i.onerror = r; })))])"""
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def shoot(out: Path, url: str, password: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)

        def page_as(role: str, width: int = 1024, height: int = 720):  # type: ignore[no-untyped-def]
            ctx = browser.new_context(
                base_url=url, viewport={"width": width, "height": height}, locale="vi-VN", timezone_id="UTC"
            )
            page = ctx.new_page()
            page.goto("/login")
            page.fill("input[name=name]", role)
            page.fill("input[name=password]", password)
            page.click("#login button[type=submit]")
            page.wait_for_load_state()
            return page

        def save(page, name: str) -> None:  # type: ignore[no-untyped-def]
            path = out / f"{name}.png"
            page.wait_for_load_state("networkidle")
            page.evaluate(
                "Promise.all([...document.images].map(i => i.complete || new Promise(r => i.onload = r)))"
            )
            page.screenshot(path=str(path))
            print(f"  {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")

        police = page_as("police")
        police.goto("/events?all=1")
        save(police, "events")
        police.locator("ul.grid li.event a").first.click()
        police.wait_for_load_state()
        save(police, "event")
        police.goto("/cases")
        police.fill("#open-case input[name=name]", "demo-case")
        police.fill("#open-case input[name=reason]", "the demo's vehicles")
        police.click("#open-case button")
        police.wait_for_load_state()
        police.goto("/events?all=1")
        refs = police.eval_on_selector_all(
            "ul.grid li.event a", "els => els.map(e => e.getAttribute('href'))"
        )
        for href in refs[:3]:
            police.goto(href)
            police.click("#add-to-case button")
            police.wait_for_load_state()
        police.goto("/cases/demo-case")
        with police.expect_download():
            police.click("#export button")
        police.goto("/cases/demo-case")
        save(police, "case")
        volunteer = page_as("volunteer")
        volunteer.goto("/fleet")
        save(volunteer, "fleet")
        phone = page_as("volunteer", 390, 720)
        phone.goto("/fleet")
        save(phone, "fleet-phone")
        resident = page_as("resident")
        resident.goto("/wall")
        save(resident, "wall")
        admin = page_as("admin")
        admin.goto("/audit")
        save(admin, "audit")
        browser.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="edge-screenshots-") as tmp:
        return run_demo(
            Path(tmp) / "demo-output", with_station=lambda url, pw: shoot(args.out.resolve(), url, pw)
        )


if __name__ == "__main__":
    sys.exit(main())
