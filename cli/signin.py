"""`lifeboat login/logout/whoami` and `lifeboat context list/use`."""

from __future__ import annotations

import sys
import webbrowser
from collections.abc import Callable
from typing import Annotated
from urllib.parse import urlsplit

import typer

from cli import config, oidc
from cli.api import API_PREFIX, Api, request
from cli.errors import CliError, Exit
from cli.output import Format, FormatOption, console, emit, errors, print_fields, print_table

context_app = typer.Typer(help="Named contexts: one per server and user signed in to.")


def _show_sign_in_page(browser: bool) -> Callable[[str], None]:
    def show(url: str) -> None:
        errors.print(
            f"Sign in at this address (it answers on this machine):\n{url}", soft_wrap=True
        )
        if browser:
            webbrowser.open(url)

    return show


def _show_code(address: str, code: str) -> None:
    errors.print(f"On any device, open {address}\nand enter the code {code}", soft_wrap=True)


def login(
    server: Annotated[
        str, typer.Option(help="The API's URL, e.g. http://127.0.0.1:8000 (or .../api/v1)")
    ],
    username: Annotated[
        str, typer.Option(help="Sign in with this user's password (else: in a browser)")
    ] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input")
    ] = False,
    browser: Annotated[
        bool, typer.Option(help="Open the sign-in page in a browser (else only print it)")
    ] = True,
    device: Annotated[
        bool,
        typer.Option(
            "--device",
            help="Sign in on another device with a code (the device authorization grant), "
            "where the provider offers it",
        ),
    ] = False,
    client_secret: Annotated[
        str,
        typer.Option(
            envvar="LIFEBOAT_CLIENT_SECRET",
            help="The OIDC client's secret, when the provider's client is confidential",
        ),
    ] = "",
    context: Annotated[
        str, typer.Option(help="Name of the context to save (default: user@host:port)")
    ] = "",
) -> None:
    """Sign in to a Lifeboat server and make it the current context.

    Without --username: the provider's sign-in page (authorization code with PKCE, redirected
    to 127.0.0.1:8250). With --device: a code to enter at the provider's address on any device
    (for a machine without a browser). With --username and --password-stdin: the password
    grant (CI, the dev stack). The server tells where its identity provider is
    (GET /api/v1/auth-config).
    """
    server = server.rstrip("/").removesuffix(API_PREFIX)
    if urlsplit(server).scheme not in ("http", "https"):
        raise CliError(
            f"--server {server!r}: give the API's URL with its scheme, e.g. http://127.0.0.1:8000",
            Exit.USAGE,
        )
    if username and not password_stdin:
        raise CliError(
            "with --username, give --password-stdin and pipe the password in", Exit.USAGE
        )
    password = sys.stdin.readline().rstrip("\n") if password_stdin else ""
    if password_stdin and not password:
        raise CliError("no password on standard input", Exit.USAGE)
    auth = request(server, "GET", API_PREFIX + "/auth-config")
    issuer, client_id = auth["issuer"], auth["client_id"]
    if username:
        tokens = oidc.password_grant(issuer, client_id, client_secret, username, password)
    elif device:
        tokens = oidc.device_grant(issuer, client_id, client_secret, _show_code)
    else:
        tokens = oidc.authorization_code_grant(
            issuer, client_id, client_secret, _show_sign_in_page(browser)
        )
    if not username:
        username = request(server, "GET", API_PREFIX + "/me", token=tokens.access_token)["username"]
    name = context or f"{username}@{urlsplit(server).netloc}"
    settings = config.load()
    settings.contexts[name] = config.Context(
        server=server,
        issuer=issuer,
        client_id=client_id,
        client_secret=client_secret,
        username=username,
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_at=tokens.expires_at,
    )
    settings.current_context = name
    config.save(settings)
    console.print(f"signed in to {server} as {username} (context {name})", highlight=False)


def logout() -> None:
    """Forget the current context's tokens (the context itself goes too)."""
    settings = config.load()
    name, context = settings.current()
    del settings.contexts[name]
    settings.current_context = ""
    config.save(settings)
    console.print(f"signed out of {context.server} (context {name} removed)", highlight=False)


def whoami(output: FormatOption = Format.TABLE) -> None:
    """Who you are to the current server: user, groups, roles."""
    emit(
        Api().get("/me"),
        output,
        lambda me: print_fields(me, ("username", "subject", "groups", "roles", "mode")),
    )


@context_app.command("list")
def list_contexts() -> None:
    """The saved contexts; * marks the current one."""
    settings = config.load()
    rows = [
        ("*" if name == settings.current_context else "", name, c.server, c.username)
        for name, c in settings.contexts.items()
    ]
    print_table("", ("current", "name", "server", "user"), rows)


@context_app.command("use")
def use_context(name: Annotated[str, typer.Argument(help="A context from `context list`")]) -> None:
    """Make another saved context the current one."""
    settings = config.load()
    if name not in settings.contexts:
        known = ", ".join(settings.contexts) or "none"
        raise CliError(f"no context {name!r} (saved: {known}): see `lifeboat context list`")
    settings.current_context = name
    config.save(settings)
    console.print(f"now using context {name}", highlight=False)
