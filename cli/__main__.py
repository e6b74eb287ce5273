"""`python -m cli`: the same as the `lifeboat` command."""

from cli.app import main

main()
