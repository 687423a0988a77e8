"""`python -m assistant` is the `assistant` command."""

from assistant.commands.cli import main

raise SystemExit(main())
