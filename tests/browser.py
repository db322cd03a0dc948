"""A real browser for the integration tests: Debian's Chromium, driven by Playwright.

Playwright is told where Chromium is (never `playwright install`, which downloads its own
browser and cannot work here). Each person gets a browser context of their own (their
own cookies); every step is photographed, and when a test fails its photographs are
saved under test-artifacts/screenshots/<test>/ (see the ``open_browser`` fixture).
"""

import re
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
NETWORK_CHANGED = "net::ERR_NETWORK_CHANGED"


def retrying_network_changes(action, again, attempts=3):
    """``action()``; when Chromium drops a page load with ERR_NETWORK_CHANGED, ``again()``.

    Chromium aborts loads in flight whenever the host's network interfaces change, and
    Docker changes them each time it starts a container, e.g. a user's server
    (https://issues.chromium.org/issues/41465264). That is the test host, not edahub:
    ``again()`` prepares the next attempt (never by replaying a one-time OAuth callback).
    """
    from playwright.sync_api import Error

    for attempt in range(attempts):
        try:
            return action()
        except Error as error:
            if NETWORK_CHANGED not in str(error) or attempt == attempts - 1:
                raise
            print(f"Chromium dropped a page load ({NETWORK_CHANGED}); trying again")
            again()


class Person:
    """One person at one browser: ``page`` to act, ``step(label)`` to photograph."""

    def __init__(self, context, name):
        self.name = name
        self.context = context
        self.page = context.new_page()
        self.steps = []  # (label, PNG bytes)

    def open(self, url):
        """Go to ``url`` (retried if Chromium drops the load, see retrying_network_changes)."""
        return retrying_network_changes(lambda: self.page.goto(url), lambda: None)

    def step(self, label):
        """Photograph the page as it is now (kept in memory; saved if the test fails)."""
        self.steps.append((label, self.page.screenshot(full_page=True)))

    def save_steps(self, folder):
        folder.mkdir(parents=True, exist_ok=True)
        for number, (label, png) in enumerate(self.steps, start=1):
            name = re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-")
            (folder / f"{self.name}-{number:02d}-{name}.png").write_bytes(png)


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium for the session."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_browser(browser, request):
    """open_browser(name, **context_options) -> a Person with a fresh browser context."""
    people = []

    def open_(name, **options):
        person = Person(browser.new_context(**options), name)
        person.page.set_default_timeout(30_000)
        people.append(person)
        return person

    yield open_
    failed = any(getattr(getattr(request.node, f"rep_{when}", None), "failed", False)
                 for when in ("setup", "call"))
    for person in people:
        if failed:
            try:
                person.step("at-failure")
            except Exception:  # the page may be gone; keep the earlier photographs
                pass
            folder = SCREENSHOTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
            person.save_steps(folder)
            print(f"screenshots of {person.name}'s steps: {folder}")
        person.context.close()
