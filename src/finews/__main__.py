"""`python -m finews`: the same as the `finews` command."""

from finews.cli import main

main()
