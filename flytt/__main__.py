"""`python -m flytt` runs the command line."""

from flytt.cli import main

main()
