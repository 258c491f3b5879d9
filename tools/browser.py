"""Headless Chromium driven over the Chrome DevTools protocol, standard library only.

The browser is started with ``--remote-debugging-pipe``: it reads protocol
messages (JSON, each ended by a NUL byte) on its fd 3 and writes them on fd 4.
No websocket, no port, no third-party package.  Used by the real-browser
test of the HTML report (tests/test_html_browser.py) and by
tools/html_screenshot.py, which makes the HTML report's screenshots for the docs.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import threading
import time
from typing import Any, Dict, List, Optional

__all__ = ["find_browser", "Browser", "Page", "BrowserError", "FLAGS"]

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
ENV_BROWSER = "GLOBALHOOK_BROWSER"

#: Flags that work in containers and CI (no sandbox, GPU or network chatter).
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
)


class BrowserError(RuntimeError):
    pass


def find_browser() -> Optional[str]:
    """The browser to use: $GLOBALHOOK_BROWSER, else the first candidate on PATH."""
    explicit = os.environ.get(ENV_BROWSER)
    if explicit:
        return shutil.which(explicit) or (explicit if os.path.isfile(explicit) else None)
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


class Browser:
    """One browser process; :meth:`new_page` opens a tab attached with its own session."""

    def __init__(self, executable: str, profile: str, log_path: Optional[str] = None) -> None:
        to_child_read, self._to_child = os.pipe()
        self._from_child, from_child_write = os.pipe()

        def remap() -> None:  # in the child: the protocol pipes become fds 3 and 4
            read = fcntl.fcntl(to_child_read, fcntl.F_DUPFD, 10)
            write = fcntl.fcntl(from_child_write, fcntl.F_DUPFD, 10)
            os.dup2(read, 3)
            os.dup2(write, 4)

        self._log = open(log_path or os.devnull, "wb")
        command = [executable, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"]
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
            preexec_fn=remap, close_fds=False,
        )
        os.close(to_child_read)
        os.close(from_child_write)
        self._lock = threading.Condition()
        self._next_id = 0
        self._replies: Dict[int, Dict[str, Any]] = {}
        self.events: List[Dict[str, Any]] = []
        self._closed = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.version = self.send("Browser.getVersion", timeout=60)

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._from_child, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._lock:
                    self._closed = True
                    self._lock.notify_all()
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw.decode("utf-8"))
                with self._lock:
                    if "id" in message:
                        self._replies[message["id"]] = message
                    else:
                        self.events.append(message)
                    self._lock.notify_all()

    def send(self, method: str, params: Optional[Dict[str, Any]] = None, session: Optional[str] = None, timeout: float = 30) -> Dict[str, Any]:
        with self._lock:
            self._next_id += 1
            number = self._next_id
        message: Dict[str, Any] = {"id": number, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode("utf-8") + b"\0"
        while data:
            data = data[os.write(self._to_child, data):]
        deadline = time.monotonic() + timeout
        with self._lock:
            while number not in self._replies:
                left = deadline - time.monotonic()
                if self._closed:
                    raise BrowserError(f"the browser closed while waiting for {method}")
                if left <= 0:
                    raise BrowserError(f"no answer to {method} within {timeout} s")
                self._lock.wait(left)
            reply = self._replies.pop(number)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    def wait_event(self, method: str, session: Optional[str], since: int, timeout: float = 30) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for event in self.events[since:]:
                    if event.get("method") == method and event.get("sessionId") == session:
                        return event
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    raise BrowserError(f"no {method} within {timeout} s")
                self._lock.wait(left)

    def new_page(self, width: int = 1280, height: int = 900) -> "Page":
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session, target)
        for method in ("Page.enable", "Runtime.enable", "Log.enable"):
            page.send(method)
        page.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        return page

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except BrowserError:
            pass
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        self._log.close()

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Page:
    """A tab: navigate, evaluate, screenshot; collects console errors and uncaught exceptions."""

    def __init__(self, browser: Browser, session: str, target: str) -> None:
        self.browser = browser
        self.session = session
        self.target = target

    def close(self) -> None:
        self.browser.send("Target.closeTarget", {"targetId": self.target})

    def send(self, method: str, params: Optional[Dict[str, Any]] = None, timeout: float = 30) -> Dict[str, Any]:
        return self.browser.send(method, params, self.session, timeout)

    def navigate(self, url: str, timeout: float = 30) -> None:
        since = len(self.browser.events)
        result = self.send("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise BrowserError(f"cannot open {url}: {result['errorText']}")
        if "loaderId" not in result:
            return  # only the fragment changed: the same document, no load event
        self.browser.wait_event("Page.loadEventFired", self.session, since, timeout)
        self.settle()

    def settle(self) -> None:
        """Wait for two painted frames: until then, sections with `content-visibility: auto`
        may still be skipped, and `innerText` leaves out what they hold."""
        self.evaluate(
            "new Promise(done => { setTimeout(done, 2000);"
            " requestAnimationFrame(() => requestAnimationFrame(() => done())); })"
        )

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression!r} raised: {result['exceptionDetails'].get('text')}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 15) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"still false after {timeout} s: {expression}")
            time.sleep(0.05)

    def screenshot(self, path: str, full_page: bool = False) -> str:
        params: Dict[str, Any] = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
        data = self.send("Page.captureScreenshot", params)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path

    def errors(self) -> List[str]:
        """Console errors, uncaught exceptions and failed loads seen by this tab so far."""
        found = []
        for event in self.browser.events:
            if event.get("sessionId") != self.session:
                continue
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append("console: " + " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                found.append("exception: " + str(details.get("exception", {}).get("description") or details.get("text")))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                found.append(f"log: {entry.get('text')} {entry.get('url', '')}".strip())
        return found
