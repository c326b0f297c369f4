"""``python -m health_advisor`` runs the command line."""

from health_advisor.cli import main

main()
