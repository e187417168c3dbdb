"""Take docs/board.png: the board on the sample data, in Debian's chromium.

Starts shiftfill on a free loopback port with the sample data, starts three
fanouts, has one caregiver decline and another take a shift, then photographs
``/board``. Run it with ``make screenshot``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import ROOT, Server, system_chromium
from config import SAMPLE_SEED

OUT = ROOT / "docs" / "board.png"
TOKEN = "screenshot-ops-token"


def main(out: Path = OUT) -> None:
    server = Server(
        SHIFTFILL_SEED_FILE=SAMPLE_SEED,
        SHIFTFILL_API_TOKEN=TOKEN,
        SHIFTFILL_SECRET_KEY="screenshot-secret-key-0123456789",
    )
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    try:
        for shift_id in ("sh_1", "sh_2", "sh_3"):
            server.request("POST", f"/shifts/{shift_id}/fanout", headers=bearer)
        # Chen Wei cannot take the RN shift; Dana Novak takes the CNA shift, a moment later.
        time.sleep(2)
        server.request("POST", "/messages/inbound", {"from": "+15555550103", "body": "no"},
                       headers=bearer)  # fmt: skip
        server.request("POST", "/messages/inbound", {"from": "+15555550104", "body": "yes"},
                       headers=bearer)  # fmt: skip
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=system_chromium())
            try:
                page = browser.new_page(viewport={"width": 1100, "height": 760})
                page.goto(f"{server.base}/board/login")
                page.get_by_label("Ops token").fill(TOKEN)
                page.get_by_role("button", name="Log in").click()
                page.wait_for_selector("#open-shifts")
                page.screenshot(path=str(out), full_page=True)
            finally:
                browser.close()
    finally:
        server.stop()
    print(f"wrote {out} ({out.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
