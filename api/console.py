"""The web console: the built single-page application (`console/dist`), served at `/`.

Files that exist are served as they are; any other path outside `/api/` is one of the
console's own routes (`/clusters/abc`), so it gets `index.html` and the console's router takes
over. Paths under `/api/` never reach this, so an unknown API path keeps the API's 404.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, Response
from starlette.convertors import Convertor, register_url_convertor

from api.errors import NotFound
from lifeboat.settings import Settings

REPO_DIST = Path(__file__).resolve().parents[1] / "console" / "dist"
# The hashed files under assets/ never change; index.html names the current ones.
_IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}
_REVALIDATE = {"Cache-Control": "no-cache"}


class ConsolePath(Convertor[str]):
    """Any path but the API's."""

    regex = r"(?!api(?:/|$)).*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("console", ConsolePath())


def mount_console(app: FastAPI, settings: Settings) -> None:
    """Serve the console built into `settings.console_dir` (else the repository's
    `console/dist`); registered after every API route, so those come first."""
    dist = (Path(settings.console_dir) if settings.console_dir else REPO_DIST).resolve()

    @app.get("/{path:console}", include_in_schema=False)
    async def console(path: str) -> Response:
        index = dist / "index.html"
        if not index.is_file():
            raise NotFound(f"the web console is not built in {dist}: run `make console`")
        wanted = (dist / path).resolve()
        if path and wanted.is_file() and wanted.is_relative_to(dist):
            headers = _IMMUTABLE if wanted.parent == dist / "assets" else _REVALIDATE
            return FileResponse(wanted, headers=headers)
        if path.startswith("assets/"):
            raise NotFound(f"no console file {path}; reload the console")
        return FileResponse(index, headers=_REVALIDATE)
