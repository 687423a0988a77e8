"""A secret from where the config says it is: inline, a file (checked private when the config
is loaded) or a systemd credential ($CREDENTIALS_DIRECTORY). A secret that cannot be read is a
ConfigError naming the field; a secret is never logged."""

from __future__ import annotations

import os
from pathlib import Path

from assistant.core.errors import ConfigError


def read_secret(
    section: str,
    name: str,
    *,
    inline: str | None = None,
    file: Path | None = None,
    credential: str | None = None,
    what: str,
) -> str | None:
    """`name`: the field's stem (`password` for `password_file` and `password_credential`);
    `what`: what to put in the file, said when it is empty."""
    if inline is not None:
        return inline
    if credential is not None:
        directory = os.environ.get("CREDENTIALS_DIRECTORY")
        if not directory:
            raise ConfigError(
                f"{section}.{name}_credential: $CREDENTIALS_DIRECTORY is not set "
                "(run under systemd with LoadCredential=)"
            )
        path, field = Path(directory) / credential, f"{name}_credential"
    elif file is not None:
        path, field = file, f"{name}_file"
    else:
        return None
    try:
        secret = path.read_text().strip()
    except OSError as e:
        raise ConfigError(f"{section}.{field}: {path}: {e.strerror}") from None
    if not secret:
        # (install-service leaves an empty credential file for the unit's LoadCredential=.)
        raise ConfigError(f"{section}.{field}: {path} is empty: put {what} in it")
    return secret
