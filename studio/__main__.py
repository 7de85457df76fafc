"""`python -m studio`: the same entry point as the `studio` command."""

from studio.cli import main

raise SystemExit(main())
