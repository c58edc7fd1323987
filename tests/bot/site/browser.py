"""Headless Chromium (Debian's /usr/bin/chromium and chromedriver) through Selenium, with the
system browser only: Selenium Manager never downloads one."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
DRIVER = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")


def _first(paths: tuple[str, ...], name: str) -> str | None:
    found = next((p for p in paths if os.access(p, os.X_OK)), None)
    return found or shutil.which(name)


def available() -> str | None:
    """None when the browser can be driven, else why not (for pytest.skip)."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    if not _first(CHROMIUM, "chromium"):
        return "no Chromium (./dev.sh setup installs Debian's chromium and chromium-driver)"
    if not _first(DRIVER, "chromedriver"):
        return "no chromedriver (./dev.sh setup installs Debian's chromium-driver)"
    return None


def chrome(width: int = 1280, height: int = 900) -> Any:
    """A headless Chromium that keeps the console log ("goog:loggingPrefs")."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(_first(CHROMIUM, "chromium"))
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
        "--allow-file-access-from-files",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=str(_first(DRIVER, "chromedriver")))
    return webdriver.Chrome(options=options, service=service)


def severe(driver: Any) -> list[str]:
    """The console's SEVERE entries since the last call (errors, failed loads)."""
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def screenshot(driver: Any, page: Path, out: Path, width: int = 1280) -> None:
    """The whole page at `width` pixels, as PNG."""
    driver.set_window_size(width, 900)
    driver.get(page.absolute().as_uri())
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.set_window_size(width, min(max(height, 600), 4000))
    out.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(out))
