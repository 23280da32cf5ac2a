"""The dashboard's rendering helpers and files: URLs, JSON for scripts, sparklines, the
templates' rules (no inline script or style), the vendored files as their README says."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

from hypothesis import given
from hypothesis import strategies as st

from cronwatch.names import validate_name
from cronwatch.storage.dashboard import RunPoint
from cronwatch.web.dashboard.access import is_loopback, safe_next
from cronwatch.web.dashboard.render import STATIC, TEMPLATES, job_path, json_script, relative
from cronwatch.web.dashboard.svg import sparkline
from tests.support.paths import REPO

T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
names = st.text(min_size=1, max_size=60).filter(
    lambda s: s == s.strip() and "/" not in s and all(c.isprintable() for c in s)
)


@given(names)
def test_a_job_path_is_one_encoded_segment_that_decodes_to_the_name(name: str) -> None:
    validate_name(name)
    path = job_path(name)
    if name in (".", ".."):
        assert path == f"/jobs?name={name}"
        return
    segment = path.removeprefix("/jobs/")
    assert re.fullmatch(r"[A-Za-z0-9_.~%-]+", segment), segment  # nothing else survives
    assert unquote(segment) == name


def test_dot_names_are_addressed_by_query_and_params_are_encoded() -> None:
    assert job_path("..") == "/jobs?name=.."
    assert job_path(".", host="db 1") == "/jobs?name=.&host=db+1"
    assert job_path("a b#c?d", host="h&x", before="") == "/jobs/a%20b%23c%3Fd?host=h%26x"


@given(st.text(max_size=200))
def test_json_for_a_script_block_cannot_close_it_and_reads_back(text: str) -> None:
    rendered = str(json_script({"name": text, "list": [text]}))
    assert "<" not in rendered and ">" not in rendered and "&" not in rendered
    assert json.loads(rendered) == {"name": text, "list": [text]}


def test_relative_times() -> None:
    assert relative(T0 - timedelta(minutes=12, seconds=41), T0) == "12m ago"
    assert relative(T0 + timedelta(hours=3, minutes=5, seconds=9), T0) == "in 3h 5m"
    assert relative(T0 + timedelta(days=2, minutes=5), T0) == "in 2d"
    assert relative(T0 - timedelta(seconds=42.7), T0) == "42s ago"
    assert relative(T0, T0) == "just now"
    assert relative(None, T0) == "—"


def test_a_sparkline_marks_failures_and_says_what_it_shows() -> None:
    points = [
        RunPoint(T0 + timedelta(hours=i), timedelta(seconds=60 + i), "success") for i in range(5)
    ]
    points.append(RunPoint(T0 + timedelta(hours=6), timedelta(seconds=3), "failure"))
    svg = str(sparkline(points))
    assert svg.startswith("<svg") and svg.count("<circle") == 1  # the failure, not "last"
    assert 'class="spark-fail"' in svg
    assert "runtime of the last 6 runs: 3s to 1m 4s, last 3s; 1 failed" in svg
    assert "style=" not in svg


def test_a_sparkline_of_nothing_is_a_dash() -> None:
    assert "spark-empty" in sparkline([])
    running = [RunPoint(T0, None, "running")]
    assert "spark-empty" in sparkline(running)


def test_loopback_addresses() -> None:
    for host in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "", "192.168.1.10", "example.com", "10.0.0.1"):
        assert not is_loopback(host), host


def test_next_is_only_ever_a_path_on_this_site() -> None:
    assert safe_next("/jobs/backup?host=db1") == "/jobs/backup?host=db1"
    for bad in (
        None,
        "",
        "https://evil.example",
        "//evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "/x\r\nLocation: //evil",
        "/a b",
        "x" * 3000,
    ):
        assert safe_next(bad) == "/", bad


# -- the files ---------------------------------------------------------------------------------


def test_templates_have_no_inline_script_style_or_handlers() -> None:
    """The Content-Security-Policy would refuse them; this finds them before a browser does."""
    for path in TEMPLATES.glob("*.html"):
        text = path.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag or 'type="application/json"' in tag, (path.name, tag)
        assert not re.search(r"<style\b", text), path.name
        assert not re.search(r"\sstyle=", text), path.name
        assert not re.search(r"\son[a-z]+=", text), path.name
        assert "|safe" not in text, f"{path.name}: |safe bypasses autoescape"


def test_vendored_files_match_their_readme() -> None:
    vendor = STATIC / "vendor"
    readme = (vendor / "README.md").read_text()
    listed = dict(
        (name, digest) for digest, name in re.findall(r"^([0-9a-f]{64})  (\S+)$", readme, re.M)
    )
    assert set(listed) == {"htmx-2.0.11.min.js", "uPlot-1.6.32.iife.min.js", "uPlot-1.6.32.min.css"}
    for name, digest in listed.items():
        assert hashlib.sha256((vendor / name).read_bytes()).hexdigest() == digest, name
    assert "Zero-Clause BSD" in (vendor / "htmx-LICENSE").read_text()
    assert "MIT License" in (vendor / "uPlot-LICENSE").read_text()
    assert 'version:"2.0.11"' in (vendor / "htmx-2.0.11.min.js").read_text()
    assert "(v1.6.32)" in (vendor / "uPlot-1.6.32.iife.min.js").read_text()[:200]


def test_templates_reference_only_files_that_exist() -> None:
    for path in TEMPLATES.glob("*.html"):
        for ref in re.findall(r'"/static/([^"?]+)', path.read_text()):
            assert (STATIC / ref).is_file(), (path.name, ref)


def test_the_package_data_ships_templates_and_static_files() -> None:
    pyproject = (REPO / "pyproject.toml").read_text()
    for pattern in ("web/templates/*.html", "web/static/*", "web/static/vendor/*"):
        assert f'"{pattern}"' in pyproject, pattern
