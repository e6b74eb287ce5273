"""The `lifeboat` command: the root of every verb, and the one place errors are printed."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from cli import access, inventory, notifications, operations, policies, signin
from cli.errors import EXIT_CODES_HELP, CliError
from cli.license import license_app
from cli.output import console, errors, no_color

app = typer.Typer(
    name="lifeboat",
    help="Back up and restore Kubernetes applications with Lifeboat.\n\n" + EXIT_CODES_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def options(
    color: Annotated[
        bool, typer.Option("--color/--no-color", help="Colour in terminal output")
    ] = True,
) -> None:
    if not color:
        no_color()


SIGN_IN = "Signing in"
PROTECT = "Clusters, backups and restores"
SETUP = "Where and when to back up"
NOTIFY = "Notifications"
ACCESS = "Access"
app.command(rich_help_panel=SIGN_IN)(signin.login)
app.command(rich_help_panel=SIGN_IN)(signin.logout)
app.command(rich_help_panel=SIGN_IN)(signin.whoami)
app.add_typer(signin.context_app, name="context", rich_help_panel=SIGN_IN)
app.add_typer(inventory.cluster_app, name="cluster", rich_help_panel=PROTECT)
app.add_typer(inventory.namespace_app, name="namespace", rich_help_panel=PROTECT)
app.add_typer(operations.backup_app, name="backup", rich_help_panel=PROTECT)
app.add_typer(operations.restore_app, name="restore", rich_help_panel=PROTECT)
app.add_typer(inventory.location_app, name="location", rich_help_panel=SETUP)
app.add_typer(inventory.cloud_account_app, name="cloud-account", rich_help_panel=SETUP)
app.add_typer(policies.policy_app, name="policy", rich_help_panel=SETUP)
app.add_typer(policies.rule_app, name="rule", rich_help_panel=SETUP)
app.add_typer(policies.schedule_app, name="schedule", rich_help_panel=SETUP)
app.add_typer(notifications.receiver_app, name="receiver", rich_help_panel=NOTIFY)
app.add_typer(notifications.subscription_app, name="subscription", rich_help_panel=NOTIFY)
app.add_typer(access.share_app, name="share", rich_help_panel=ACCESS)
app.add_typer(access.user_app, name="user", rich_help_panel=ACCESS)
app.add_typer(access.group_app, name="group", rich_help_panel=ACCESS)
app.add_typer(access.role_app, name="role", rich_help_panel=ACCESS)
app.command("status", rich_help_panel="Administration")(inventory.status)
app.add_typer(license_app, name="license", rich_help_panel="Administration")


@app.command(rich_help_panel="Administration")
def openapi() -> None:
    """Print the OpenAPI document (JSON); needs no running server."""
    # Imported here: the app and its settings are loaded only for the admin verbs.
    from api.app import create_app
    from lifeboat.settings import Settings

    console.out(json.dumps(create_app(Settings()).openapi(), indent=2), highlight=False)


@app.command(rich_help_panel="Administration")
def migrate() -> None:
    """Bring the catalog schema up to date (LIFEBOAT_DATABASE_URL)."""
    from lifeboat.catalog.migrate import upgrade
    from lifeboat.settings import Settings

    upgrade(Settings().database_url)
    console.print("catalog schema is up to date")


@app.command("rotate-secrets", rich_help_panel="Administration")
def rotate_secrets() -> None:
    """Re-encrypt every stored secret under LIFEBOAT_SECRET_KEY, in one transaction.

    Set the new key as LIFEBOAT_SECRET_KEY and the one it replaces in
    LIFEBOAT_PREVIOUS_SECRET_KEYS (a JSON list), for this command, the api and the workers;
    once it succeeded, remove LIFEBOAT_PREVIOUS_SECRET_KEYS everywhere.
    """
    import asyncio

    from lifeboat.catalog.rotation import rotate_secrets as rotate
    from lifeboat.catalog.session import create_engine, create_sessionmaker
    from lifeboat.secrets import SecretDecryptError
    from lifeboat.settings import Settings

    settings = Settings()

    async def run() -> dict[str, int]:
        engine = create_engine(settings.database_url)
        try:
            return dict(await rotate(create_sessionmaker(engine), settings.secret_box()))
        finally:
            await engine.dispose()

    try:
        rotated = asyncio.run(run())
    except SecretDecryptError as exc:
        raise CliError(f"{exc}; nothing was changed") from exc
    total = sum(rotated.values())
    detail = ", ".join(f"{table} {count}" for table, count in sorted(rotated.items()))
    console.print(
        f"re-encrypted {total} secrets under LIFEBOAT_SECRET_KEY ({detail or 'none stored'})",
        highlight=False,
    )


def main() -> None:
    """The script entry point: a CliError becomes its message on stderr and its exit code."""
    try:
        app()
    except CliError as exc:
        errors.print(f"error: {exc.message}", highlight=False, markup=False, soft_wrap=True)
        sys.exit(exc.code)
    except typer.Abort:
        errors.print("aborted")
        sys.exit(1)
