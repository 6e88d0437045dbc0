"""Headless Chromium for the site's tests: serve the built site on loopback and drive pages.

Debian's `chromium` is driven over the DevTools protocol with websocket-client (no Playwright,
which would download a browser of its own). `make test` installs chromium when it is missing.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import json
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium itself calls Google hosts.
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,1600",
]
# The visible widget frame: each frame is an image with its own alt text.
SHOWN_FRAMES = """[...document.querySelectorAll('.jupyter-widgets img')]
    .filter(img => img.offsetParent !== null).map(img => img.alt).join(' | ')"""


class DevTools:
    """A minimal Chrome DevTools Protocol client: call methods and keep every event."""

    def __init__(self, websocket_url: str) -> None:
        import websocket  # websocket-client, installed with jupyter-server

        self.socket = websocket.create_connection(websocket_url, timeout=30)
        self.timeout_error = websocket.WebSocketTimeoutException
        self.events: list[dict] = []
        self.last_id = 0

    def call(self, method: str, **params) -> dict:
        self.last_id += 1
        self.socket.send(json.dumps({"id": self.last_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.last_id:
                return message.get("result", {})
            self.events.append(message)

    def wait(self, seconds: float) -> None:
        """Collect events for `seconds`."""
        end = time.monotonic() + seconds
        self.socket.settimeout(0.2)
        while time.monotonic() < end:
            with contextlib.suppress(self.timeout_error):
                self.events.append(json.loads(self.socket.recv()))
        self.socket.settimeout(30)

    def open(self, url: str, settle: float = 6) -> None:
        """Load `url` and give its scripts `settle` seconds to render the widgets and the math."""
        self.call("Page.navigate", url=url)
        self.wait(settle)

    def wait_until(self, expression: str, timeout: float = 45) -> bool:
        """Collect events until `expression` is true on the page (or `timeout` seconds pass); return it.

        For what a loaded machine renders slowly: a fixed pause is either too short there or too long
        everywhere else.
        """
        end = time.monotonic() + timeout
        while not self.evaluate(expression):
            if time.monotonic() > end:
                return False
            self.wait(0.5)
        return True

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def press_right(self, handle: int, times: int) -> None:
        """Focus the `handle`-th slider handle on the page and press the right arrow key `times` times."""
        assert self.evaluate(f"document.querySelectorAll('.noUi-handle')[{handle}].focus(); true")
        for _ in range(times):
            for kind in ("rawKeyDown", "keyUp"):
                self.call("Input.dispatchKeyEvent", type=kind, key="ArrowRight",
                          code="ArrowRight", windowsVirtualKeyCode=39)  # fmt: skip
        self.wait(1)

    def requested_urls(self) -> list[str]:
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e.get("method") == "Network.requestWillBeSent"
        ]

    def failed_requests(self) -> list[str]:
        """'status URL' of every request answered with an HTTP error (a 404, say), or 'error URL' of one
        that failed without an answer; a request the page itself cancelled is not a failure."""
        urls = {
            e["params"]["requestId"]: e["params"]["request"]["url"]
            for e in self.events
            if e.get("method") == "Network.requestWillBeSent"
        }
        failed = []
        for event in self.events:
            params = event.get("params", {})
            if event.get("method") == "Network.responseReceived" and params["response"]["status"] >= 400:
                failed.append(f"{params['response']['status']} {params['response']['url']}")
            elif event.get("method") == "Network.loadingFailed" and not params.get("canceled"):
                failed.append(f"{params['errorText']} {urls.get(params['requestId'], '?')}")
        return failed

    def console_errors(self) -> list[str]:
        """Uncaught exceptions and console.error messages seen so far."""
        errors = []
        for event in self.events:
            if event.get("method") == "Runtime.exceptionThrown":
                details = event["params"]["exceptionDetails"]
                errors.append(details.get("exception", {}).get("description") or details.get("text", ""))
            elif event.get("method") == "Runtime.consoleAPICalled" and event["params"]["type"] == "error":
                errors.append(
                    " ".join(str(a.get("value", a.get("description", ""))) for a in event["params"]["args"])
                )
        return errors

    def screenshot(self, path: Path) -> None:
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the built site without logging every request to stderr."""

    def log_message(self, format: str, *args) -> None:
        pass


@contextlib.contextmanager
def chromium(profile: Path) -> Iterator[DevTools]:
    """Headless Chromium with its profile in `profile`; yield the DevTools client of its page."""
    with contextlib.closing(__import__("socket").socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [
            CHROMIUM,
            *CHROMIUM_FLAGS,
            f"--remote-debugging-port={port}",
            f"--user-data-dir={profile}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        targets = None
        for _ in range(100):
            with contextlib.suppress(OSError):
                targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json"))
                break
            time.sleep(0.1)
        assert targets, "Chromium did not open its DevTools port"
        page = next(t for t in targets if t["type"] == "page")
        browser = DevTools(page["webSocketDebuggerUrl"])
        for domain in ("Network", "Page", "Runtime"):
            browser.call(f"{domain}.enable")
        yield browser
    finally:
        process.terminate()
        process.wait(10)


@contextlib.contextmanager
def browse(site: Path, profile: Path) -> Iterator[tuple[DevTools, str]]:
    """Serve `site` on loopback and open Chromium on it; yield the DevTools client and the site's base URL."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with chromium(profile) as browser:
            yield browser, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
