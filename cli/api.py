"""The API as the command line sees it: the current context's tokens, refreshed when they have
expired, and the API's error message (and field) instead of a traceback."""

from __future__ import annotations

import time
from typing import Any

import httpx

from cli import config, oidc
from cli.errors import CliError, Exit

# Items per page when a command reads a whole list (the API's largest page).
LIST_PAGE = 1000
API_PREFIX = "/api/v1"
TIMEOUT = 180.0  # a restore preview runs a workflow before it answers


def api_error(response: httpx.Response) -> CliError:
    """The API's `{"error": {"code", "message", "field"}}` as one line."""
    try:
        error = response.json()["error"]
        message = error["message"]
        if error.get("field"):
            message = f"{message} (field: {error['field']})"
    except (ValueError, KeyError, TypeError):
        message = response.text[:300] or response.reason_phrase
    if response.status_code == 401:
        return CliError(
            f"the API refused the sign-in ({message}): run `lifeboat login` again", Exit.SIGN_IN
        )
    return CliError(
        f"{response.status_code} {response.reason_phrase}: {message}", status=response.status_code
    )


def request(server: str, method: str, path: str, *, token: str = "", **kwargs: Any) -> Any:
    """One call to the API at `server`; the decoded JSON answer (None when empty)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.request(
            method, f"{server}{path}", headers=headers, timeout=TIMEOUT, **kwargs
        )
    except httpx.HTTPError as exc:
        raise oidc.unreachable("Lifeboat API", server, exc) from exc
    if response.status_code >= 400:
        raise api_error(response)
    return response.json() if response.content else None


class Api:
    """Calls as the current context's user; refreshes (and saves) its tokens when expired."""

    def __init__(self) -> None:
        self._config = config.load()
        self._name, self.context = self._config.current()

    def _token(self) -> str:
        context = self.context
        if time.time() < context.expires_at:
            return context.access_token
        if not context.refresh_token:
            raise CliError(
                f"the sign-in to {context.server} expired: run `lifeboat login` again",
                Exit.SIGN_IN,
            )
        try:
            tokens = oidc.refresh_grant(
                context.issuer, context.client_id, context.client_secret, context.refresh_token
            )
        except CliError as exc:
            if exc.code != Exit.SIGN_IN:
                raise
            raise CliError(
                f"the sign-in to {context.server} expired and could not be renewed "
                f"({exc.message}): run `lifeboat login` again",
                Exit.SIGN_IN,
            ) from exc
        context.access_token = tokens.access_token
        context.refresh_token = tokens.refresh_token
        context.expires_at = tokens.expires_at
        config.save(self._config)
        return context.access_token

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        return request(
            self.context.server, method, API_PREFIX + path, token=self._token(), **kwargs
        )

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.call("GET", path, **kwargs)

    def get_all(self, path: str, **params: Any) -> dict[str, Any]:
        """A whole list, following its pages (`next`) to the end, as one page."""
        items: list[Any] = []
        query = {"limit": LIST_PAGE, **params}
        while True:
            page = self.get(path, params=query)
            items += page["items"]
            if not page.get("next"):
                return {"items": items, "count": len(items)}
            query["after"] = page["next"]

    def post(self, path: str, body: Any = None) -> Any:
        return self.call("POST", path, json=body)

    def put(self, path: str, body: Any) -> Any:
        return self.call("PUT", path, json=body)

    def patch(self, path: str, body: Any) -> Any:
        return self.call("PATCH", path, json=body)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.call("DELETE", path, **kwargs)
