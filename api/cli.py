"""The `lifeboat` command: tasks around the API that need no running server.

It lives in `api` rather than `lifeboat` because printing the OpenAPI document needs the app,
and the core package must not import `api`.
"""

from __future__ import annotations

import argparse
import json
import sys

from api.app import create_app
from lifeboat.catalog.migrate import upgrade
from lifeboat.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lifeboat", description="Lifeboat administration")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("openapi", help="print the OpenAPI document (JSON) and exit")
    commands.add_parser("migrate", help="bring the catalog schema up to date")
    args = parser.parse_args(argv)
    if args.command == "openapi":
        json.dump(create_app(Settings()).openapi(), sys.stdout, indent=2)
        print()
    elif args.command == "migrate":
        settings = Settings()
        upgrade(settings.database_url)
        print("catalog schema is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
