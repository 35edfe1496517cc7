"""The HTML book works with no network: widgets and math render from files the book serves itself.

A throwaway book (the repository's _config.yml, an intro page and one MyST notebook with inline,
display and amsmath math plus an IntSlider and a Dropdown) is built with the venv's jupyter-book.
Then two kinds of proof:

- static: every <script src>, <link href>, <img src> ... and every CSS url()/@import in the built
  site is local and exists, the widget state is embedded, and the page loads exactly the vendored
  require.js, html-manager and MathJax (nothing else from book/_static/vendor/);
- a real render: headless Chromium, with every host name but 127.0.0.1 unresolvable, opens the page
  from a loopback HTTP server; the DOM must hold rendered widgets (class lm-Widget) and MathJax
  output (mjx-container), Chromium's network log must show no request to any other host, and the
  server must have answered every request with 200. This one skips, saying why, without Chromium
  (tools/install_chromium.sh installs it).

Plus a fast check that package.json, package-lock.json and tools/vendor_static.py pin the same
versions. Everything else is marked slow (~40 s in all, most of it the book build).
"""

from __future__ import annotations

import functools
import html.parser
import http.server
import json
import re
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from vendor_static import PINNED

# Module-scoped fixtures: keep this module on one pytest-xdist worker.
pytestmark = pytest.mark.xdist_group("book")

ROOT = Path(__file__).resolve().parents[1]
VENDOR_STAMP = ROOT / "book" / "_static" / "vendor" / ".stamp"
CHROMIUM = Path("/usr/bin/chromium")

# The only scripts from _static/vendor/ a page may load; everything else there is fetched lazily
# by these three (a longer list means Jupyter Book injected vendored files into every page).
VENDOR_SCRIPTS = {
    "require.js",
    "require-paths.js",
    "html-manager/embed-amd.js",
    "mathjax/tex-chtml.js",
}
# Widget model modules that html-manager's embed-amd.js defines itself (no CDN needed).
BUILTIN_WIDGET_MODULES = {
    "@jupyter-widgets/base",
    "@jupyter-widgets/controls",
    "@jupyter-widgets/output",
}
WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json"

PROBE_PAGE = textwrap.dedent(
    r"""
    ---
    jupytext:
      text_representation:
        format_name: myst
    kernelspec:
      display_name: Python 3
      language: python
      name: python3
    ---

    # Offline probe

    Inline math $e^{i\pi}+1=0$, and a TeX extension MathJax loads on demand: $\cancel{x}$.

    $$
    \sum_{k=1}^{n} k = \frac{n(n+1)}{2}
    $$

    \begin{align}
    a &= b + c \\
    d &= e
    \end{align}

    ```{code-cell} ipython3
    import ipywidgets as widgets

    widgets.IntSlider(value=7, min=0, max=10, description="seeds")
    ```

    ```{code-cell} ipython3
    widgets.Dropdown(options=["alpha", "beta"], value="beta", description="pick")
    ```

    ```{code-cell} ipython3
    widgets.Button(description="run", icon="check")
    ```
    """
).lstrip()

TOC = textwrap.dedent(
    """
    format: jb-book
    root: book/intro
    chapters:
      - file: book/probe
    """
).lstrip()


class Refs(html.parser.HTMLParser):
    """Collects what an HTML page makes the browser fetch (not plain <a href> links)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.fetched: list[tuple[str, str]] = []  # (tag.attr, url)
        self.scripts: list[dict[str, str | None]] = []
        self.inline_css: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script":
            self.scripts.append(named)
        if tag == "style":
            self._in_style = True
        for attr in ("src", "href", "data", "poster", "srcset"):
            value = named.get(attr)
            if value is None or (tag == "a" and attr == "href"):
                continue
            urls = [part.split()[0] for part in value.split(",")] if attr == "srcset" else [value]
            self.fetched += [(f"{tag}.{attr}", url) for url in urls if url]
        if named.get("style"):
            self.inline_css.append(named["style"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.inline_css.append(data)


CSS_URL = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)|@import\s+(['"])(.*?)\3""", re.IGNORECASE)


def css_urls(css: str) -> list[str]:
    """Every url(...) and @import "..." target in a stylesheet, comments removed first."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    return [m.group(2) or m.group(4) for m in CSS_URL.finditer(css) if m.group(2) or m.group(4)]


def is_remote(url: str) -> bool:
    """True for anything a browser would fetch from another host: scheme://, //host, or a scheme
    other than data:/blob: (mailto: and javascript: are not fetched by tags we check)."""
    parts = urlsplit(url.strip())
    if url.strip().startswith("//"):
        return True
    return parts.scheme not in ("", "data", "blob")


def local_target(page: Path, url: str) -> Path | None:
    """The file a local URL points at (query and fragment dropped), or None for data:/#frag."""
    parts = urlsplit(url.strip())
    if parts.scheme in ("data", "blob") or not parts.path:
        return None
    return (page.parent / unquote(parts.path)).resolve()


def url_problems(site: Path) -> tuple[list[str], int]:
    """Remote or dangling references in every HTML and CSS file of ``site``; and how many
    references were checked. A reference is a problem if it is remote or its file is missing."""
    problems: list[str] = []
    checked = 0
    for path in sorted(site.rglob("*")):
        # The themes copy Jinja macro files (webpack-macros.html) into _static/: templates, not
        # pages a reader opens, and their "{{ pathto(...) }}" are rendered into the real pages.
        if path.suffix == ".html" and path.relative_to(site).parts[0] != "_static":
            parser = Refs()
            parser.feed(path.read_text(encoding="utf-8"))
            found = list(parser.fetched)
            found += [("css", u) for css in parser.inline_css for u in css_urls(css)]
        elif path.suffix == ".css":
            found = [("css", u) for u in css_urls(path.read_text(encoding="utf-8"))]
        else:
            continue
        for where, url in found:
            checked += 1
            name = path.relative_to(site)
            if is_remote(url):
                problems.append(f"{name}: {where} {url!r} is remote; expected a local file")
                continue
            target = local_target(path, url)
            if target is not None and not target.exists():
                problems.append(f"{name}: {where} {url!r} -> missing file {target}")
    return problems, checked


def test_npm_pins_agree() -> None:
    """package.json pins exactly the versions tools/vendor_static.py copies from, the lock file
    resolves them to those versions, and no npm script can run or download anything."""
    manifest = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))
    lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))
    assert manifest.get("private") is True, "package.json must be private (never published)"
    assert "scripts" not in manifest, f"package.json has scripts {manifest.get('scripts')}"
    assert manifest["dependencies"] == PINNED, f"{manifest['dependencies']} != {PINNED}"
    locked = {p: lock["packages"].get(f"node_modules/{p}", {}).get("version") for p in PINNED}
    assert locked == PINNED, f"package-lock.json resolves {locked}; expected {PINNED}"
    assert lock["packages"][""]["dependencies"] == PINNED, "lock file is stale: run npm install"


def ensure_vendored() -> None:
    """Vendor the offline JS if `make setup` has not (the tool is idempotent and quick when done)."""
    if VENDOR_STAMP.is_file():
        return
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "vendor_static.py")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, f"tools/vendor_static.py failed:\n{done.stdout}{done.stderr}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the throwaway book with the repository's _config.yml; return its _build/html."""
    ensure_vendored()
    src = tmp_path_factory.mktemp("offline-book")
    shutil.copy(ROOT / "_config.yml", src / "_config.yml")
    (src / "_toc.yml").write_text(TOC, encoding="utf-8")
    (src / "book").mkdir()
    shutil.copytree(ROOT / "book" / "_static", src / "book" / "_static")
    (src / "book" / "intro.md").write_text("# Offline test book\n\nSee the probe.\n", "utf-8")
    (src / "book" / "probe.md").write_text(PROBE_PAGE, encoding="utf-8")
    jb = Path(sys.executable).parent / "jupyter-book"
    done = subprocess.run(
        [str(jb), "build", str(src), "--warningiserror", "--nitpick", "--keep-going"],
        capture_output=True,
        text=True,
        cwd=src,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
    return src / "_build" / "html"


def probe_refs(site: Path) -> Refs:
    parser = Refs()
    parser.feed((site / "book" / "probe.html").read_text(encoding="utf-8"))
    return parser


@pytest.mark.slow
def test_every_fetched_url_is_local_and_exists(site: Path) -> None:
    """No <script src>, <link href>, <img src> or CSS url()/@import leaves the site or dangles."""
    problems, checked = url_problems(site)
    assert checked > 50, f"checked only {checked} references; expected the theme's many"
    assert not problems, f"{len(problems)} of {checked} references are not offline:\n" + "\n".join(
        problems[:40]
    )


@pytest.mark.slow
def test_page_loads_exactly_the_vendored_scripts(site: Path) -> None:
    """The probe page loads require.js, the html-manager and MathJax from _static/vendor/, with
    no integrity hash (it would be the CDN file's) and no CDN-only switch for widget modules."""
    scripts = probe_refs(site).scripts
    vendored = {}
    for attrs in scripts:
        src = attrs.get("src") or ""
        if "_static/vendor/" in src:
            vendored[urlsplit(src).path.split("_static/vendor/", 1)[1]] = attrs
    assert set(vendored) == VENDOR_SCRIPTS, f"vendored scripts {sorted(vendored)}"
    for name, attrs in vendored.items():
        assert "integrity" not in attrs, f"{name} has integrity={attrs['integrity']!r}"
        assert "data-jupyter-widgets-cdn-only" not in attrs, f"{name} forces widget JS from a CDN"
    order = [urlsplit(s.get("src") or "").path for s in scripts]
    position = {
        name: i
        for i, path in enumerate(order)
        for name in VENDOR_SCRIPTS
        if path.endswith(f"vendor/{name}")
    }
    assert (
        position["require.js"]
        < position["require-paths.js"]
        < position["html-manager/embed-amd.js"]
    ), f"widget scripts out of order (require.js, require-paths.js, embed-amd.js): {order}"


@pytest.mark.slow
def test_widget_state_is_embedded_and_needs_no_cdn(site: Path) -> None:
    """The page embeds the widget state (all three models), and every model's JS is built into the
    vendored html-manager, so no widget module is fetched from a CDN."""
    states = [s for s in probe_refs(site).scripts if s.get("type") == WIDGET_STATE_MIME]
    assert len(states) == 1, f"expected one {WIDGET_STATE_MIME} script, found {len(states)}"
    text = (site / "book" / "probe.html").read_text(encoding="utf-8")
    body = text.split(f'type="{WIDGET_STATE_MIME}">', 1)[1].split("</script>", 1)[0]
    state = json.loads(body)["state"]
    models = {m["model_name"] for m in state.values()}
    assert {"IntSliderModel", "DropdownModel", "ButtonModel"} <= models, (
        f"models in state: {sorted(models)}"
    )
    modules = {m["model_module"] for m in state.values()} | {
        m["state"].get("_view_module") for m in state.values() if m["state"].get("_view_module")
    }
    assert modules <= BUILTIN_WIDGET_MODULES, (
        f"not built in: {sorted(modules - BUILTIN_WIDGET_MODULES)}"
    )
    embed = (ROOT / "book/_static/vendor/html-manager/embed-amd.js").read_text(encoding="utf-8")
    for module in ("@jupyter-widgets/base", "@jupyter-widgets/controls"):
        assert f'define("{module}"' in embed, f"{module} is not bundled in embed-amd.js"


class _Server(http.server.ThreadingHTTPServer):
    """Loopback static server that records (status, path) of every request it answers."""

    log: list[tuple[int, str]]


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[tuple[str, _Server]]:
    """Serve the built site on 127.0.0.1 at a free port; yield (base URL, server)."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            self.server.log.append((int(code), self.path))  # type: ignore[attr-defined]

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # errors are asserted from server.log, not printed

    server = _Server(("127.0.0.1", 0), functools.partial(Handler, directory=str(site)))
    server.log = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server
    finally:
        server.shutdown()
        server.server_close()


def chromium(url: str, tmp: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Headless Chromium on ``url`` with every host but 127.0.0.1 unresolvable."""
    profile = tmp / "profile"
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        # Let timers and async loads (require.js, MathJax fonts) finish before dumping.
        "--virtual-time-budget=20000",
        *extra,
        url,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def page_requests(path: Path, site: str) -> list[str]:
    """URLs of the requests Chromium made on behalf of pages of ``site`` (an origin such as
    "http://127.0.0.1"), read from a --log-net-log file.

    The browser also makes requests of its own (component updates, network time, account
    lookups) that no page caused; those carry another or a null network isolation key. A page's
    request, including one to a CDN that fails to resolve, carries the page's site as its key."""
    text = path.read_text(encoding="utf-8").rstrip()
    try:
        log = json.loads(text)
    except json.JSONDecodeError:  # killed before closing the event list
        log = json.loads(text.rstrip(",") + "]}")
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        event["params"]["url"]
        for event in log["events"]
        if event["type"] == start_job
        and str(event.get("params", {}).get("network_isolation_key", "")).startswith(site)
    ]


needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} not installed (run tools/install_chromium.sh)"
)


def assert_rendered(dom: str, how: str) -> None:
    """The DOM Chromium dumped holds the three rendered widgets and the four typeset formulas."""
    widgets = len(re.findall(r'class="[^"]*\blm-Widget\b', dom))
    assert widgets >= 3, f"{widgets} lm-Widget elements {how}; expected the 3 widgets rendered"
    assert re.search(r'class="[^"]*\bwidget-hslider\b', dom), f"no rendered IntSlider {how}"
    assert re.search(r'class="[^"]*widget-readout[^"]*"[^>]*>7<', dom), "slider readout is not 7"
    assert re.search(r'class="[^"]*\bwidget-dropdown\b', dom), f"no rendered Dropdown {how}"
    # The selected option is a DOM property, not an attribute: the screenshot shows it.
    assert ">alpha</option>" in dom and ">beta</option>" in dom, "Dropdown options missing"
    # The theme's FontAwesome script may have swapped the Button's <i class="fa"> for an <svg>.
    button = r'<button[^>]*widget-button[^>]*><(i|svg) class="[^"]*\bfa-check\b'
    assert re.search(button, dom), f"no rendered Button with its icon {how}"
    # Inline, cancel (loaded on demand), display, align: each becomes an mjx-container.
    mjx = len(re.findall(r"<mjx-container", dom))
    assert mjx >= 4, f"{mjx} mjx-container elements {how}; expected >= 4 typeset formulas"
    assert "<mjx-merror" not in dom, f"MathJax reported a TeX error {how}"


@pytest.mark.slow
@needs_chromium
def test_chromium_renders_widgets_and_math_with_no_network(served, tmp_path: Path) -> None:
    """In a browser that can reach only 127.0.0.1, the slider, dropdown, button and math render,
    no request leaves loopback, and every request the page makes succeeds."""
    base, server = served
    netlog = tmp_path / "net.json"
    started = time.monotonic()
    done = chromium(f"{base}/book/probe.html", tmp_path, f"--log-net-log={netlog}", "--dump-dom")
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-3000:]
    dom = done.stdout

    assert_rendered(dom, f"over HTTP after {elapsed:.1f}s")

    requests = page_requests(netlog, "http://127.0.0.1")
    assert len(requests) > 20, f"only {len(requests)} page requests in the net log: {requests}"
    remote = sorted({u for u in requests if urlsplit(u).hostname != "127.0.0.1"})
    assert not remote, "the page made requests that left loopback:\n" + "\n".join(remote)
    served_paths = [p for _, p in server.log]
    assert any(p.endswith("/input/tex/extensions/cancel.js") for p in served_paths), served_paths
    assert any("/mathjax/output/chtml/fonts/woff-v2/" in p for p in served_paths), (
        f"no MathJax font fetched from _static/vendor/mathjax/: {served_paths}"
    )
    # The Button's icon is FontAwesome, which the widget bundles fetch relative to their AMD module
    # URL: require-paths.js must have mapped that into the vendored html-manager/.
    assert any("/_static/vendor/html-manager/" in p and ".woff" in p for p in served_paths), (
        f"no widget icon font fetched from _static/vendor/html-manager/: {served_paths}"
    )
    # Chromium asks for /favicon.ico on its own; the page does not link one.
    failed = [(code, p) for code, p in server.log if code != 200 and p != "/favicon.ico"]
    assert not failed, f"requests that did not get 200: {failed}"


@pytest.mark.slow
@needs_chromium
def test_chromium_renders_from_disk(site: Path, tmp_path: Path) -> None:
    """Opened as a file (file://, no server at all), widgets and math still render: the vendored
    scripts carry no crossorigin attribute, which would make file:// script loads fail."""
    done = chromium((site / "book" / "probe.html").as_uri(), tmp_path, "--dump-dom")
    assert done.returncode == 0, done.stderr[-3000:]
    assert_rendered(done.stdout, "from file://")


@pytest.mark.slow
@needs_chromium
def test_chromium_screenshot(served, tmp_path: Path) -> None:
    """A screenshot of the page is taken and is not blank (its path is printed, to look at)."""
    base, _ = served
    shot = tmp_path / "probe.png"
    done = chromium(
        f"{base}/book/probe.html", tmp_path, f"--screenshot={shot}", "--window-size=1200,1100"
    )
    assert done.returncode == 0 and shot.is_file(), done.stderr[-3000:]
    assert shot.stat().st_size > 20_000, f"screenshot is {shot.stat().st_size} bytes; blank?"
    print(f"screenshot: {shot}")
