"""Opens every page of the built site in headless Chromium and fails on
what a reader would see broken.

    python docs/check_site.py SITE_DIR [--screenshots DIR]

The site is served on 127.0.0.1 under a sub-path (`/keras-lrx/`), as a
project site is deployed, so a link from the server's root shows up as a
failed request. Each page, at 1280 px wide, fails on:

- a JavaScript console error or an uncaught exception;
- a request that failed (a missing picture, stylesheet or script) or a
  picture that did not load (`naturalWidth == 0`);
- content wider than its column: an element of the article (a table, a
  signature, a code block that does not scroll) reaching past the
  article's right edge;
- no `<h1>`.

`404.html` is opened too, and must be styled. Chromium is Debian's
(`/usr/bin/chromium`, or `$CHROMIUM`), driven by Playwright's Python
package; Playwright downloads no browser here. Exits 1 listing every
failure, else prints one line per page.
"""

import argparse
import functools
import http.server
import os
import pathlib
import shutil
import sys
import tempfile
import threading

PREFIX = "keras-lrx"
WIDTH = 1280
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Elements of the article that may not reach past its right edge. Code
# blocks scroll inside themselves (`pre > code` has overflow: auto), so a
# long line there is fine; the `pre` itself is what must fit.
MEASURE = """
() => {
  const article = document.querySelector("article") || document.body;
  const right = article.getBoundingClientRect().right + 1;
  const wide = [];
  for (const el of article.querySelectorAll(
      "table, pre, img, .doc-signature, .highlight, p, ul, dl, h1, h2, h3")) {
    const box = el.getBoundingClientRect();
    if (box.width > 0 && box.right > right) {
      wide.push(`${el.tagName.toLowerCase()}` +
        `${el.className ? "." + String(el.className).split(" ")[0] : ""}` +
        ` ends at ${Math.round(box.right)} px, the column at ` +
        `${Math.round(right)} px: "` +
        (el.textContent || el.getAttribute("src") || "").trim()
          .slice(0, 60).replace(/\\s+/g, " ") + '"');
    }
  }
  // A table that scrolls inside Material's wrapper is cut, not readable.
  for (const wrap of article.querySelectorAll(".md-typeset__scrollwrap")) {
    if (wrap.scrollWidth > wrap.clientWidth + 1) {
      wide.push(`a table ${wrap.scrollWidth} px wide in a column of ` +
        `${wrap.clientWidth} px: "` +
        wrap.textContent.trim().slice(0, 60).replace(/\\s+/g, " ") + '"');
    }
  }
  const broken = [...document.images]
    .filter((img) => !img.complete || img.naturalWidth === 0)
    .map((img) => img.getAttribute("src"));
  return {
    wide: wide,
    broken: broken,
    h1: document.querySelectorAll("h1").length,
    styled: getComputedStyle(document.body).fontFamily !== "" &&
      document.styleSheets.length > 0 &&
      getComputedStyle(document.querySelector(".md-header") ||
        document.body).position !== "static",
  };
}
"""


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(root):
    """Serves `root` on a free port of 127.0.0.1; returns the server."""
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def pages(site):
    """Every page of the site, as paths relative to it."""
    found = sorted(
        p.relative_to(site).as_posix()
        for p in site.rglob("*.html")
        if p.name != "404.html"
    )
    return found + ["404.html"]


def check(site, screenshots=None):
    from playwright.sync_api import sync_playwright

    failures, site = [], pathlib.Path(site).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        os.symlink(site, pathlib.Path(tmp) / PREFIX)
        server = serve(tmp)
        base = f"http://127.0.0.1:{server.server_address[1]}/{PREFIX}/"
        profile = pathlib.Path(tmp) / "profile"
        with sync_playwright() as p:
            # A fresh profile (--user-data-dir), which Playwright takes as
            # a persistent context's folder.
            browser = p.chromium.launch_persistent_context(
                str(profile),
                executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
                headless=True,
                args=FLAGS,
                viewport={"width": WIDTH, "height": 900},
            )
            page = browser.new_page()
            problems = []
            page.on(
                "console",
                lambda m: (
                    m.type == "error"
                    and problems.append(f"console error: {m.text}")
                ),
            )
            page.on(
                "pageerror", lambda e: problems.append(f"uncaught error: {e}")
            )
            page.on(
                "requestfailed",
                lambda r: problems.append(f"request failed: {r.url}"),
            )
            page.on(
                "response",
                lambda r: (
                    r.status >= 400
                    and problems.append(f"HTTP {r.status}: {r.url}")
                ),
            )
            for path in pages(site):
                problems.clear()
                url = base + (path[: -len("index.html")] if path.endswith(
                    "index.html") else path)  # fmt: skip
                page.goto(url, wait_until="load")
                page.wait_for_load_state("networkidle")
                found = page.evaluate(MEASURE)
                problems += [
                    f"picture did not load: {s}" for s in found["broken"]
                ]
                problems += [
                    f"wider than its column: {w}" for w in found["wide"]
                ]
                if path == "404.html":
                    if not found["styled"]:
                        problems.append("404.html is not styled")
                elif not found["h1"]:
                    problems.append("no <h1>")
                name = path.replace("/index.html", "/").replace(".html", "")
                if screenshots and name in (
                    "index",
                    "guides/finder/",
                    "api/lrx/",
                ):
                    shot = pathlib.Path(screenshots)
                    shot.mkdir(parents=True, exist_ok=True)
                    flat = name.strip("/").replace("/", "_") or "index"
                    page.screenshot(path=str(shot / f"{flat}.png"))
                    page.screenshot(
                        path=str(shot / f"{flat}_full.png"), full_page=True
                    )
                status = "ok" if not problems else "FAILED"
                print(f"{status:6} /{PREFIX}/{path}", flush=True)
                failures += [f"/{PREFIX}/{path}: {m}" for m in problems]
            browser.close()
        server.shutdown()
    return failures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("site", help="the built site (mkdocs build's folder)")
    parser.add_argument("--screenshots", help="folder for screenshots")
    args = parser.parse_args(argv)
    if not shutil.which(os.environ.get("CHROMIUM", "/usr/bin/chromium")):
        sys.exit("check_site: no Chromium (apt-get install chromium)")
    failures = check(args.site, args.screenshots)
    if failures:
        print(f"\n{len(failures)} problem(s):", *failures, sep="\n")
        return 1
    print("every page: no console error, every picture loaded, nothing wider "
          f"than its column at {WIDTH} px, an <h1>")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
