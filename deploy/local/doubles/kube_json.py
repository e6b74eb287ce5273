"""Plain-JSON calls to the API server, for the doubles that play a controller through it.

The CSI driver and the pod runner read and write objects as the API server's JSON, so objects
keep their API field names throughout (no client models in between).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

Obj = dict[str, Any]

# Calls to a dev API server take milliseconds; one that hangs is retried by the next pass.
REQUEST_TIMEOUT = 5.0


class Kube:
    """Plain-JSON calls to the API server, so objects keep their API field names throughout.

    The client is rebuilt from the kubeconfig after any failed pass: a restarted dev API
    server may listen on another port, and start_kube rewrites the same kubeconfig file.
    """

    def __init__(self, kubeconfig: Path, user_agent: str) -> None:
        self._kubeconfig = kubeconfig
        self._user_agent = user_agent
        self._api: client.ApiClient | None = None

    def reset(self) -> None:
        """Forget the connection; the next call reads the kubeconfig again."""
        if self._api is not None:
            self._api.close()
        self._api = None

    def request(self, method: str, path: str, body: Obj | None = None) -> Obj:
        """One call; raises ApiException for an HTTP error, urllib3 errors when unreachable."""
        result: Obj = json.loads(self._call(method, path, body))
        return result

    def ready(self) -> bool:
        """Whether the API server reports itself ready.

        While it starts, a request for a custom resource can hang until its CRD informers have
        synced (we saw 10 s); /readyz answers at once and only says ok after that.
        """
        try:
            return self._call("GET", "/readyz", None).strip() == b"ok"
        except ApiException:
            return False

    def _call(self, method: str, path: str, body: Obj | None) -> bytes:
        if self._api is None:
            self._api = config.new_client_from_config(config_file=str(self._kubeconfig))
            # Names the double as the manager in the objects' managedFields.
            self._api.user_agent = self._user_agent
        api = self._api
        headers = {"Accept": "application/json, */*"}
        if body is not None:
            headers["Content-Type"] = (
                "application/merge-patch+json" if method == "PATCH" else "application/json"
            )
        verb, url, header_params, payload, post_params = api.param_serialize(
            method=method,
            resource_path=path,
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        response = api.call_api(
            verb,
            url,
            header_params=header_params,
            body=payload,
            post_params=post_params,
            _request_timeout=REQUEST_TIMEOUT,
        )
        data: bytes = response.read()
        if not 200 <= response.status <= 299:
            raise ApiException.from_response(
                http_resp=response, body=data.decode(errors="replace"), data=None
            )
        return data

    def list(self, path: str) -> list[Obj]:
        """The items of a collection (a quorum read, never a stale cache)."""
        items: list[Obj] = self.request("GET", path).get("items") or []
        return items

    def get(self, path: str) -> Obj | None:
        """The object, or None when it does not exist."""
        try:
            return self.request("GET", path)
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def create(self, path: str, body: Obj) -> Obj:
        """Create the object in the collection; an existing one fails with 409."""
        return self.request("POST", path, body)

    def patch(self, path: str, body: Obj) -> Obj:
        """A JSON merge patch; with metadata.resourceVersion in it, a conflict fails (409)."""
        return self.request("PATCH", path, body)

    def delete(self, path: str) -> None:
        """Delete the object; one already gone is fine."""
        try:
            self.request("DELETE", path)
        except ApiException as error:
            if error.status != 404:
                raise
