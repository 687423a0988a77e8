"""What users run: the `assistant` command line and each of its commands."""
