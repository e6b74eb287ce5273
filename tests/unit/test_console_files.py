"""The api serves the built console at `/`: its files as they are, `index.html` for the
console's own addresses, and never in place of an API answer."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from lifeboat.settings import Settings


@pytest.fixture
def console(tmp_path: Path) -> TestClient:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<div id=root></div>")
    (tmp_path / "assets" / "index-abc.js").write_text("console.log(1)")
    # Not entered as a context manager: the routes below need no catalog or Temporal.
    return TestClient(create_app(Settings(console_dir=str(tmp_path))))


def test_the_console_and_its_routes_get_index_html(console: TestClient) -> None:
    for path in ("/", "/clusters/abc", "/auth/callback?code=x&state=y"):
        response = console.get(path)
        assert response.status_code == 200, path
        assert response.text == "<div id=root></div>"
        assert response.headers["cache-control"] == "no-cache"


def test_assets_are_served_and_cached_for_good(console: TestClient) -> None:
    response = console.get("/assets/index-abc.js")
    assert response.text == "console.log(1)"
    assert "immutable" in response.headers["cache-control"]
    missing = console.get("/assets/index-old.js")
    assert missing.status_code == 404
    assert "reload the console" in missing.json()["error"]["message"]


def test_api_paths_keep_the_apis_answers(console: TestClient) -> None:
    response = console.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert console.get("/healthz").json() == {"status": "ok"}


def test_no_file_outside_the_console_is_served(console: TestClient, tmp_path: Path) -> None:
    (tmp_path.parent / "secret.txt").write_text("secret")
    response = console.get("/..%2Fsecret.txt")
    assert "secret" not in response.text


def test_an_unbuilt_console_says_how_to_build_it(tmp_path: Path) -> None:
    client = TestClient(create_app(Settings(console_dir=str(tmp_path / "none"))))
    response = client.get("/")
    assert response.status_code == 404
    assert "make console" in response.json()["error"]["message"]
