"""Which users the identity provider still has, asked through its SCIM 2.0 interface.

Lifeboat learns users from the tokens they sign in with, so nothing in a token says that a
user was removed at the provider. A provider with a SCIM server (Canaille, Keycloak with a
SCIM extension, Okta, Entra ID) answers `GET <scim>/Users`; Lifeboat reads it with a
client-credentials token of its own directory client and compares the users it lists with the
catalog's. Where a provider has no SCIM interface, users not seen for a configured time stand
in for removed ones (see `Settings.user_unseen_days`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

# Pages beyond this mean a provider that never ends its list: stop rather than loop forever.
MAX_PAGES = 5000
TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class DirectoryError(Exception):
    """The provider could not say which users it has; nothing may be concluded."""


@dataclass(frozen=True)
class ScimDirectory:
    """A provider's SCIM server and the client Lifeboat reads it as.

    `subject_attribute` is the SCIM attribute that equals the tokens' user id claim:
    `userName` for Canaille (its `sub` is the user name), `id` for Keycloak and Entra ID.
    """

    scim_url: str
    # Where the client-credentials token comes from: the issuer's discovery document says.
    issuer: str
    client_id: str
    client_secret: str
    subject_attribute: str = "userName"

    async def subjects(self) -> set[str]:
        """Every user id the provider lists. Raises DirectoryError when it cannot be read."""
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT) as http:
                token = await self._token(http)
                return await self._list_users(http, token)
        except httpx.HTTPError as exc:
            raise DirectoryError(f"the provider's SCIM interface did not answer: {exc}") from None

    async def _token(self, http: httpx.AsyncClient) -> str:
        discovery = await http.get(f"{self.issuer.rstrip('/')}/.well-known/openid-configuration")
        token_url = _json(discovery).get("token_endpoint")
        if discovery.status_code != 200 or not isinstance(token_url, str):
            raise DirectoryError(f"the issuer {self.issuer} names no token endpoint")
        response = await http.post(
            token_url,
            data={"grant_type": "client_credentials"},
            auth=(self.client_id, self.client_secret),
        )
        if response.status_code != 200:
            raise DirectoryError(
                f"the provider refused the directory client {self.client_id!r} a token "
                f"(HTTP {response.status_code}); check LIFEBOAT_DIRECTORY_CLIENT_ID and _SECRET"
            )
        token = _json(response).get("access_token")
        if not isinstance(token, str):
            raise DirectoryError("the provider's token answer has no access_token")
        return token

    async def _list_users(self, http: httpx.AsyncClient, token: str) -> set[str]:
        found: set[str] = set()
        start = 1
        for _ in range(MAX_PAGES):
            response = await http.get(
                f"{self.scim_url.rstrip('/')}/Users",
                # No `count`: each provider pages by its own default (Canaille 0.3 fails on one).
                params={"startIndex": start},
                headers={"Authorization": f"Bearer {token}", "Accept": "application/scim+json"},
            )
            if response.status_code != 200:
                raise DirectoryError(
                    f"GET {self.scim_url}/Users answered HTTP {response.status_code}; the "
                    "directory client needs the right to list users"
                )
            page = _json(response)
            resources = page.get("Resources") or []
            for resource in resources:
                value = resource.get(self.subject_attribute) if isinstance(resource, dict) else None
                if isinstance(value, str):
                    found.add(value)
            total = page.get("totalResults")
            start += len(resources)
            if not resources or not isinstance(total, int) or start > total:
                return found
        raise DirectoryError(f"the provider listed more than {MAX_PAGES} pages of users")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise DirectoryError(f"{response.request.url} did not answer JSON") from None
    if not isinstance(body, dict):
        raise DirectoryError(f"{response.request.url} did not answer a JSON object")
    return body
