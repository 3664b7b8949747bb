"""The API docs (Swagger UI and ReDoc) render in a real browser from assets the app serves:
no request leaves the host (the service promises to load nothing from outside)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Request

from .conftest import Service
from .harness import RESULTS, TIMEOUT_MS


@pytest.mark.parametrize(
    ("path", "rendered"),
    [
        ("/api/v1/docs", "#swagger-ui .opblock-summary-path"),
        ("/api/v1/redoc", "[data-section-id] h2"),
    ],
)
def test_docs_render_from_the_app_alone(
    service: Service, browser_context: BrowserContext, path: str, rendered: str
) -> None:
    page = browser_context.new_page()
    requests: list[str] = []
    blocked: list[str] = []  # refused by the page's Content-Security-Policy: never sent
    errors: list[str] = []

    def on_request(request: Request) -> None:
        requests.append(request.url)

    def on_failed(request: Request) -> None:
        if request.failure in ("csp", "net::ERR_BLOCKED_BY_CSP"):
            blocked.append(request.url)

    page.on("request", on_request)
    page.on("requestfailed", on_failed)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{service.url}{path}", wait_until="networkidle")
    page.wait_for_selector(rendered, timeout=TIMEOUT_MS)
    shown = " ".join(page.locator(rendered).all_text_contents())
    assert "/dashboard/sentiment" in shown or "sentiment" in shown.lower(), shown[:500]
    RESULTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(RESULTS / f"docs{path.replace('/', '-')}.png"))

    service_host = urlsplit(service.url).netloc
    outside = [url for url in requests if urlsplit(url).netloc not in (service_host, "")]
    assert [url for url in outside if url not in blocked] == [], (outside, blocked)
    assert errors == []
