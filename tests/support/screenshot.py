"""``docs/dashboard.png``, the README's picture of the overview, drawn from the dashboard tests'
fleet in Debian's Chromium: ``scripts/screenshot`` (an opt-in script, not a test: it asserts
nothing, it writes a file)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.support.fleet import build_fleet, chromium
from tests.support.paths import DOCS
from tests.support.server import LiveServer


def write_screenshot(target: Path) -> None:
    """The overview of the fleet, 1360 px wide, London time, written to ``target``."""
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch) / 'cronwatch.db'}"
        fleet = build_fleet(url, Path(scratch))
        with LiveServer(url, config=fleet.config) as live, chromium() as browser:
            context = browser.new_context(
                viewport={"width": 1360, "height": 900},
                device_scale_factor=1,
                timezone_id="Europe/London",
            )
            page = context.new_page()
            page.goto(live.url + "/")
            target.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(target), full_page=True)
            context.close()


def main(argv: list[str]) -> int:
    target = Path(argv[0]) if argv else DOCS / "dashboard.png"
    write_screenshot(target)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
