"""The environment's proxy and CA settings, read once by the collector's requestor."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from reddit_sentiment.collection.collector import TimeoutRequestor, proxies_for


class _Proxy(http.server.BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_GET(self) -> None:
        type(self).seen.append(self.path)  # a proxy is sent the absolute URL
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def proxy() -> Iterator[str]:
    _Proxy.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_proxies_follow_https_proxy_and_no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy", "https_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "www.reddit.com")
    assert proxies_for("https://oauth.reddit.com", "https://www.reddit.com") == {
        "https://oauth.reddit.com": "http://proxy.example:3128"
    }
    monkeypatch.delenv("HTTPS_PROXY")
    assert proxies_for("https://oauth.reddit.com") == {}


def test_requests_go_through_the_proxy_the_environment_names(
    monkeypatch: pytest.MonkeyPatch, proxy: str
) -> None:
    for name in ("ALL_PROXY", "all_proxy", "http_proxy", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    requestor = TimeoutRequestor(
        user_agent="reddit-sentiment tests",
        oauth_url="http://oauth.reddit.invalid",
        reddit_url="http://www.reddit.invalid",
        timeout=5,
    )
    monkeypatch.delenv("HTTP_PROXY")  # read once, at construction: later changes do not count
    response = requestor.request("GET", "http://oauth.reddit.invalid/r/python/new?limit=1")
    assert (response.status_code, response.json()) == (200, {"ok": True})
    assert _Proxy.seen == ["http://oauth.reddit.invalid/r/python/new?limit=1"]
    assert requestor._http.trust_env is False


def test_ca_bundle_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/custom.pem")
    requestor = TimeoutRequestor(user_agent="reddit-sentiment tests", timeout=5)
    assert requestor._http.verify == "/etc/ssl/certs/custom.pem"
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    assert TimeoutRequestor(user_agent="reddit-sentiment tests", timeout=5)._http.verify is True
