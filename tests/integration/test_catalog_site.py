"""The catalog site in a real browser: Debian's headless Chromium, no lab host.

The site is built from the shipped plugins into a temporary folder and
served by Python's http.server on 127.0.0.1 (and opened once from disk,
file://). Every page loads with no console error and no request to another
host, every internal link resolves (files and #fragments), the calculator
gives the Python cost model's figures for three inputs, axe-core finds no
violation, and three screenshots are written next to the test's output.
A second site, built from two collectives of real signed files (one of them
tampered), is checked the same way on the pages that show the collectives'
sections (who runs the tool, the reviews, the experience notes).
"""

from __future__ import annotations

import functools
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urlparse

import pytest

from anl_stack.catalog.site.build import build_site
from anl_stack.cli.cost_view import _value
from anl_stack.core.i18n import translate
from anl_stack.costs.report import cost_report
from anl_stack.plugins.discovery import discover_plugins, get_plugin, require_loaded
from tests.fixtures.browser import axe_violations
from tests.unit.test_catalog_collective import collectives  # noqa: F401 (a fixture)
from tests.unit.test_collective import NAME, keys, plugin  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: (tool, inhabitants, what the reader types, the same as `plugins cost --set` takes it); the page is French.
CALCULATIONS = [
    ("nextcloud", 5000, {"accounts": "300", "quota_gb": "2,5", "hourly_cost_eur": "35"},
     {"accounts": "300", "quota_gb": "2.5", "hourly_cost_eur": "35"}),
    ("streaming", 12000, {"viewers": "120", "hours_per_month": "6", "egress_eur_per_gb": "0,01",
                          "retention_months": ""},
     {"viewers": "120", "hours_per_month": "6", "egress_eur_per_gb": "0.01", "retention_months": "unknown"}),
    ("peertube", 800, {"deploy_minutes": "7,5", "preparation_hours": "4", "hourly_cost_eur": "28,75"},
     {"deploy_minutes": "7.5", "preparation_hours": "4", "hourly_cost_eur": "28.75"}),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("catalog") / "site"
    return out, build_site(out)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


def _serve(folder: Path) -> Iterator[str]:
    """Serve FOLDER on a free port of 127.0.0.1 while the generator is open; yields its address."""
    handler = functools.partial(_Quiet, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def server(site: tuple[Path, dict[str, Any]]) -> Iterator[str]:
    yield from _serve(site[0])


class Watched:
    """A browser context whose requests to any other host are refused and recorded, with console errors."""

    def __init__(self, browser: Any, allowed: str | None) -> None:
        self.context = browser.new_context()
        self.elsewhere: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._route)
        self.allowed = allowed

    def _route(self, route: Any) -> None:
        url = route.request.url
        parsed = urlparse(url)
        local = parsed.scheme == "file" or (self.allowed is not None and url.startswith(self.allowed))
        if local or parsed.scheme == "data":
            route.continue_()
        else:
            self.elsewhere.append(url)
            route.abort()

    def page(self) -> Any:
        page = self.context.new_page()
        page.on("console", lambda msg: self.errors.append(f"{page.url}: {msg.text}") if msg.type == "error" else None)
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: {error}"))
        return page


@pytest.fixture
def watched(browser: Any, server: str) -> Iterator[Watched]:
    w = Watched(browser, server)
    try:
        yield w
    finally:
        w.context.close()


def test_every_page_loads_clean_and_every_internal_link_resolves(site: tuple[Path, dict[str, Any]], server: str,
                                                               watched: Watched) -> None:
    started = time.monotonic()
    folder, summary = site
    page = watched.page()
    ids: dict[str, set[str]] = {}
    links: set[tuple[str, str]] = set()  # (page it is on, link)
    for path in summary["pages"]:
        response = page.goto(server + path)
        assert response is not None and response.status == 200, path
        assert page.title(), path
        ids[server + path] = set(page.eval_on_selector_all("[id]", "els => els.map(e => e.id)"))
        for href in page.eval_on_selector_all("a[href], link[href]", "els => els.map(e => e.href)"):
            links.add((path, href))
    internal = [(on, href) for on, href in links if href.startswith(server)]
    assert len(internal) > 10 * len(summary["pages"])
    for on, href in internal:
        target, fragment = urldefrag(href)
        if target not in ids:  # catalog.json, publiccode.yml, the style sheet
            status = watched.context.request.get(target).status
            assert status == 200, f"{on}: {href} ({status})"
            ids[target] = set()
        if fragment:
            assert fragment in ids[target], f"{on}: {href}: no element with that id"
    assert watched.errors == []
    assert watched.elsewhere == []
    # Every language switch leads to the same page in the other language.
    for path in summary["pages"]:
        page.goto(server + path)
        other = page.get_attribute(".langs a", "href")
        page.goto(server + path.rsplit("/", 1)[0] + "/" + other if "/" in path else server + other)
        assert page.get_attribute("html", "lang") != ("fr" if not path.startswith("en/") else "en"), path
    print(f"\n{len(summary['pages'])} pages, {len(internal)} internal links checked in "
          f"{time.monotonic() - started:.1f} s")


def _python_figures(name: str, inhabitants: int, overrides: dict[str, str]) -> dict[str, Any]:
    tool = get_plugin(name, discover_plugins())
    report = cost_report(tool.path, require_loaded(tool), sizes=(inhabitants,), overrides=overrides)
    return report["sizes"][0]


def _calculate(page: Any, name: str, inhabitants: int, typed: dict[str, str]) -> dict[str, Any]:
    page.select_option("#calc-tool", name)
    page.fill("#calc-inhabitants", str(inhabitants))
    for key, text in typed.items():
        page.fill(f"#calc-a-{key}", text)
    rows = page.eval_on_selector_all(
        "#calc-results tbody tr",
        "rows => rows.map(r => [r.dataset.key, r.dataset.value, r.querySelector('.value').textContent])")
    return {"rows": rows, "server": page.get_attribute("#calc-server", "data-server"),
            "status": page.text_content("#calc-status")}


def _expect(size: dict[str, Any]) -> list[list[str]]:
    def _(message: str) -> str:
        return translate(message, "fr")

    return [[line["key"], "" if line["value"] is None else repr(line["value"]).removesuffix(".0"),
             _value(line, "fr", _)] for line in size["lines"]]


def _js_number(text: str) -> str:
    return text if text == "" else repr(float(text)).removesuffix(".0")


@pytest.mark.parametrize("name, inhabitants, typed, overrides", CALCULATIONS, ids=[c[0] for c in CALCULATIONS])
def test_calculator_gives_the_python_models_figures(server: str, watched: Watched, name: str, inhabitants: int,
                                                    typed: dict[str, str], overrides: dict[str, str]) -> None:
    page = watched.page()
    page.goto(server + "couts.html")
    shown = _calculate(page, name, inhabitants, typed)
    size = _python_figures(name, inhabitants, overrides)
    assert [[k, _js_number(v), text] for k, v, text in shown["rows"]] == _expect(size)
    assert shown["server"] == (size["server"]["name"] if size["server"] else "")
    assert "\u202f" in shown["status"] or inhabitants < 1000
    assert watched.errors == [] and watched.elsewhere == []


def test_calculator_refuses_a_bad_value_and_works_from_disk(site: tuple[Path, dict[str, Any]], browser: Any) -> None:
    """Opened from the folder (file://): the calculator still works, loads nothing, and says what it expected."""
    folder, _summary = site
    w = Watched(browser, None)
    try:
        page = w.page()
        page.goto((folder / "couts.html").as_uri() + "#nextcloud")
        assert page.input_value("#calc-tool") == "nextcloud"
        page.fill("#calc-a-accounts", "12,5")
        assert page.get_attribute("#calc-a-accounts", "aria-invalid") == "true"
        assert "nombre entier" in page.text_content("#calc-a-accounts-error")
        assert page.eval_on_selector_all("#calc-results tbody tr", "rows => rows.length") == 0
        page.fill("#calc-a-accounts", "40")
        name, inhabitants, typed, overrides = CALCULATIONS[0]
        shown = _calculate(page, name, inhabitants, {**typed, "accounts": "40"})
        size = _python_figures(name, inhabitants, {**overrides, "accounts": "40"})
        assert [[k, _js_number(v), text] for k, v, text in shown["rows"]] == _expect(size)
        assert w.errors == [] and w.elsewhere == []
    finally:
        w.context.close()


def test_no_accessibility_violation(site: tuple[Path, dict[str, Any]], server: str, watched: Watched,
                                    axe_script: Path) -> None:
    _folder, summary = site
    page = watched.page()
    found = {}
    for path in summary["pages"]:
        page.goto(server + path)
        violations = axe_violations(page, axe_script)
        if violations:
            found[path] = [f"{v['id']} ({v['impact']}): {v['help']} x{len(v['nodes'])}" for v in violations]
    assert found == {}


def test_screenshots(server: str, watched: Watched, tmp_path_factory: pytest.TempPathFactory,
                     capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path_factory.mktemp("catalog-screenshots")
    page = watched.page()
    page.set_viewport_size({"width": 1280, "height": 900})
    written = []
    for path, name in (("index.html", "home-fr.png"), ("outils/nextcloud.html", "nextcloud-fr.png"),
                       ("en/costs.html#streaming", "calculator-en.png")):
        page.goto(server + path)
        target = folder / name
        page.screenshot(path=str(target), full_page=True)
        assert target.stat().st_size > 10_000
        written.append(target)
    with capsys.disabled():
        print("\ncatalog screenshots: " + ", ".join(str(p) for p in written))


def test_collective_sections_load_clean_without_accessibility_violation(
        tmp_path: Path, plugin: Path, collectives: tuple[Path, Path], browser: Any,  # noqa: F811
        axe_script: Path) -> None:
    from anl_stack.plugins.discovery import load_folder

    out = tmp_path / "site-collectives"
    summary = build_site(out, "fr", plugins=[*discover_plugins(), load_folder(plugin, NAME)],
                         collectives=list(collectives))
    shown = [p for p in summary["pages"] if "Cevins-le-Faux" not in (out / p).read_text()
             and "Aiguebelle" in (out / p).read_text()]
    assert len(shown) >= 4, summary["pages"]  # the demo tool's page and the users' page, in both languages
    for server_url in _serve(out):
        w = Watched(browser, server_url)
        try:
            page = w.page()
            found = {}
            for path in shown:
                response = page.goto(server_url + path)
                assert response is not None and response.status == 200, path
                assert page.locator("text=Aiguebelle").count() > 0, path
                violations = axe_violations(page, axe_script)
                if violations:
                    found[path] = [f"{v['id']} ({v['impact']}): {v['help']} x{len(v['nodes'])}" for v in violations]
            assert found == {}
            assert w.errors == [] and w.elsewhere == []
        finally:
            w.context.close()
