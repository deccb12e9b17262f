"""A tiny Chrome DevTools Protocol client over ``--remote-debugging-pipe`` (standard library
only): Chromium reads commands from its fd 3 and writes replies and events to its fd 4, each a
JSON object followed by a NUL byte.

One browser, one page (a target attached in flat mode, so every page command carries its
``sessionId``). Enough for the tests: navigate, evaluate JavaScript (awaiting promises),
click, type, wait for a condition inside the page, take a screenshot.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.test_report_browser import chromium

TIMEOUT_S = 30.0


class CdpError(AssertionError):
    pass


class Browser:
    """Headless Chromium driven over a pipe. Use as a context manager."""

    def __init__(self, profile: Path, width: int = 1280, height: int = 900) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def wire_fds() -> None:  # in the child, before exec: its fds 3 and 4
            # Out of the way first (either pipe end may itself be fd 3 or 4).
            read_end = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
            write_end = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        self.log_path = profile.parent / f"{profile.name}-chromium.log"
        profile.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-extensions",
                 f"--user-data-dir={profile}", f"--window-size={width},{height}",
                 "--remote-debugging-pipe", "about:blank"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=wire_fds,
                pass_fds=(3, 4))
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.session = ""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target,
                                 flatten=True)["sessionId"]
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._send({"id": self._new_id(), "method": "Browser.close"})
            self.process.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        for fd in (self._to_chrome, self._from_chrome):
            with contextlib.suppress(OSError):
                os.close(fd)

    # --- the protocol -----------------------------------------------------------------------

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _send(self, message: dict[str, Any]) -> None:
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_chrome], [], [], left)[0]:
                raise CdpError(f"no answer from Chromium in time; its log: "
                               f"{self.log_path.read_text(errors='replace')[-2000:]}")
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise CdpError(f"Chromium closed the pipe; its log: "
                               f"{self.log_path.read_text(errors='replace')[-2000:]}")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def call(self, method: str, timeout_s: float = TIMEOUT_S, **params: Any) -> dict[str, Any]:
        """Send one command (to the page once attached) and return its result."""
        ident = self._new_id()
        message: dict[str, Any] = {"id": ident, "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        self._send(message)
        deadline = time.monotonic() + timeout_s
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == ident:
                if "error" in reply:
                    raise CdpError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            if "method" in reply:
                self.events.append(reply)

    # --- the page ---------------------------------------------------------------------------

    def navigate(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        self.wait("document.readyState === 'complete'")

    def evaluate(self, expression: str, timeout_s: float = TIMEOUT_S) -> Any:
        """The value of a JavaScript expression (a promise is awaited)."""
        result = self.call("Runtime.evaluate", timeout_s=timeout_s + 5, expression=expression,
                           awaitPromise=True, returnByValue=True, userGesture=True,
                           timeout=int(timeout_s * 1000))
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise CdpError(f"{expression[:200]}: "
                           f"{details.get('exception', {}).get('description', details)}")
        return result["result"].get("value")

    def wait(self, condition: str, timeout_s: float = TIMEOUT_S) -> Any:
        """Wait inside the page until the JavaScript ``condition`` is truthy (checked on every
        animation frame, no sleeping here); its value."""
        script = f"""new Promise((resolve, reject) => {{
            const deadline = performance.now() + {timeout_s * 1000};
            const check = () => {{
                let value;
                try {{ value = ({condition}); }} catch (e) {{ value = undefined; }}
                if (value) resolve(value);
                else if (performance.now() > deadline) reject(new Error("timed out waiting"));
                else setTimeout(check, 20);
            }};
            check();
        }})"""
        try:
            return self.evaluate(script, timeout_s)
        except CdpError as exc:
            raise CdpError(f"waited {timeout_s:g} s for: {condition}\n{exc}") from None

    def click(self, selector: str) -> None:
        self.evaluate(f"document.querySelector({json.dumps(selector)}).click()")

    def type_into(self, selector: str, text: str) -> None:
        self.evaluate(f"(() => {{ const el = document.querySelector({json.dumps(selector)}); "
                      f"el.focus(); el.value = {json.dumps(text)}; return true; }})()")

    def screenshot(self, path: Path) -> bytes:
        data = base64.b64decode(self.call("Page.captureScreenshot", format="png",
                                          captureBeyondViewport=True)["data"])
        path.write_bytes(data)
        return data
