#!/usr/bin/env python3
"""Opens a report's HTML file in headless Chromium and fails on any console error,
uncaught exception or network request other than the file itself; writes a
screenshot of the first screens (and, with --pdf, the printed PDF).

Talks the Chrome DevTools Protocol over `--remote-debugging-pipe` (file descriptors 3
and 4, NUL-separated JSON): no port, no WebSocket library, only the standard library.

    report_check.py REPORT.html SCREENSHOT.png [--pdf OUT.pdf] [--top PX] [--height PX]

Exit status: 0 clean, 1 a problem was found (each printed), 2 Chromium could not run.
"""

import base64
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

WIDTH = 1280


class Chrome:
    def __init__(self, binary, profile):
        # Chromium reads commands from its fd 3 and writes answers to its fd 4.
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()
        args = [
            binary,
            "--headless=new",
            "--remote-debugging-pipe",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--font-render-hinting=none",
            f"--user-data-dir={profile}",
            f"--window-size={WIDTH},900",
            "about:blank",
        ]

        def fds():
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        self.proc = subprocess.Popen(
            args,
            # close_fds runs after preexec_fn: only 0-2 and the two pipes stay open.
            preexec_fn=fds,
            close_fds=True,
            pass_fds=(3, 4),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buffer = b""
        self.next_id = 0
        self.events = []

    def send(self, method, params=None, session=None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_chrome, json.dumps(message).encode() + b"\0")
        return self.next_id

    def read(self, timeout):
        """The next message, or None after `timeout` seconds."""
        deadline = time.time() + timeout
        while b"\0" not in self.buffer:
            left = deadline - time.time()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.from_chrome], [], [], left)
            if not ready:
                return None
            chunk = os.read(self.from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the pipe")
            self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method, params=None, session=None, timeout=30):
        wanted = self.send(method, params, session)
        deadline = time.time() + timeout
        while time.time() < deadline:
            message = self.read(deadline - time.time())
            if message is None:
                break
            if message.get("id") == wanted:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)
        raise RuntimeError(f"{method}: no answer in {timeout} s")

    def wait_event(self, name, timeout):
        for i, e in enumerate(self.events):
            if e["method"] == name:
                return self.events.pop(i)
        deadline = time.time() + timeout
        while time.time() < deadline:
            message = self.read(deadline - time.time())
            if message is None:
                break
            if message.get("method") == name:
                self.events.append(message)
                return message
            if "method" in message:
                self.events.append(message)
        return None

    def drain(self, seconds):
        deadline = time.time() + seconds
        while time.time() < deadline:
            message = self.read(deadline - time.time())
            if message is None:
                break
            if "method" in message:
                self.events.append(message)

    def close(self):
        try:
            self.send("Browser.close")
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
            self.proc.wait()


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    html, png = os.path.abspath(args[0]), args[1]
    pdf = args[args.index("--pdf") + 1] if "--pdf" in args else None
    height = int(args[args.index("--height") + 1]) if "--height" in args else 2400
    top = int(args[args.index("--top") + 1]) if "--top" in args else 0
    binary = find_chromium()
    if binary is None:
        print("no chromium found (Debian: apt-get install chromium)", file=sys.stderr)
        return 2
    url = "file://" + html
    problems = []
    with tempfile.TemporaryDirectory() as profile:
        chrome = Chrome(binary, profile)
        try:
            target = chrome.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = chrome.call(
                "Target.attachToTarget", {"targetId": target, "flatten": True}
            )["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                chrome.call(f"{domain}.enable", session=session)
            chrome.call(
                "Emulation.setDeviceMetricsOverride",
                {"width": WIDTH, "height": 900, "deviceScaleFactor": 1, "mobile": False},
                session=session,
            )
            chrome.events.clear()
            chrome.call("Page.navigate", {"url": url}, session=session)
            if chrome.wait_event("Page.loadEventFired", 60) is None:
                problems.append("the page did not finish loading in 60 s")
            # Late requests (lazy images, fonts) would come now.
            chrome.drain(1.5)
            for e in chrome.events:
                if e.get("sessionId") != session:
                    continue
                p = e.get("params", {})
                m = e["method"]
                if m == "Network.requestWillBeSent":
                    request = p.get("request", {}).get("url", "")
                    if request != url:
                        problems.append(f"network request: {request}")
                elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                    text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
                    problems.append(f"console {p.get('type')}: {text}")
                elif m == "Runtime.exceptionThrown":
                    problems.append(f"exception: {p.get('exceptionDetails', {}).get('text')}")
                elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                    entry = p["entry"]
                    problems.append(f"log error ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}")
            metrics = chrome.call("Page.getLayoutMetrics", session=session)
            size = metrics.get("cssContentSize") or metrics.get("contentSize")
            page_height = int(size["height"])
            shot = chrome.call(
                "Page.captureScreenshot",
                {
                    "format": "png",
                    "captureBeyondViewport": True,
                    "clip": {
                        "x": 0,
                        "y": top,
                        "width": WIDTH,
                        "height": max(1, min(height, page_height - top)),
                        "scale": 1,
                    },
                },
                session=session,
                timeout=60,
            )
            os.makedirs(os.path.dirname(os.path.abspath(png)), exist_ok=True)
            with open(png, "wb") as f:
                f.write(base64.b64decode(shot["data"]))
            if pdf:
                printed = chrome.call(
                    "Page.printToPDF",
                    {"printBackground": True, "preferCSSPageSize": True},
                    session=session,
                    timeout=120,
                )
                with open(pdf, "wb") as f:
                    f.write(base64.b64decode(printed["data"]))
        except RuntimeError as e:
            print(f"chromium: {e}", file=sys.stderr)
            return 2
        finally:
            chrome.close()
    print(f"{html}: page {page_height} px high; screenshot {png}")
    for p in problems:
        print(f"PROBLEM: {p}")
    if problems:
        print(f"{len(problems)} problem(s)")
        return 1
    print("no console errors, no network requests but the file itself")
    return 0


if __name__ == "__main__":
    sys.exit(main())
