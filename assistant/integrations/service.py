"""`assistant install-service`: the systemd unit for this installation, and a commented config.

The units in `systemd/` are written for a checkout in /opt/assistant; this writes one with
the paths of the installation that runs it, next to a commented default config (never
over an existing one), and says which `systemctl` commands enable it.
"""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from assistant.config import PROJECT_ROOT
from assistant.core.errors import AssistantError

UNIT = "assistant.service"
TEMPLATE_ROOT = "/opt/assistant"
TEMPLATE_EXEC = f"{TEMPLATE_ROOT}/.venv/bin/assistant"
CREDENTIAL = "mqtt-password"


@dataclass
class Installation:
    unit: Path
    config: Path
    config_written: bool
    credential: Path | None
    commands: list[str]
    warnings: list[str] = field(default_factory=list)


def executable() -> str:
    """How systemd should start this installation's `assistant`."""
    script = Path(sys.executable).parent / "assistant"
    if script.is_file() and os.access(script, os.X_OK):
        return str(script.absolute())
    return f"{Path(sys.executable).absolute()} -m assistant"


def render_unit(user: bool, exec_start: str, project_root: Path = PROJECT_ROOT) -> str:
    kind = "user" if user else "system"
    text = (project_root / "systemd" / kind / UNIT).read_text()
    text = text.replace(TEMPLATE_EXEC, exec_start)
    text = text.replace(f"file:{TEMPLATE_ROOT}/README.md", f"file:{project_root}/README.md")
    if not user and _under_homes(project_root, exec_start):
        # ProtectHome=yes would hide the installation itself.
        text = text.replace("ProtectHome=yes", "ProtectHome=read-only")
    return text


def config_template() -> str:
    return resources.files("assistant").joinpath("templates/config.toml").read_text()


def install(user: bool, root: Path = Path("/")) -> Installation:
    """Write the unit and (unless there is one) the config; nothing is started."""
    exec_start = executable()
    unit_text = render_unit(user, exec_start)
    if user:
        home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
        unit_dir, config_dir = home / "systemd" / "user", home / "assistant"
        config_mode = 0o600
    else:
        unit_dir, config_dir = root / "etc/systemd/system", root / "etc/assistant"
        config_mode = 0o644  # read by the service's dynamic user; secrets live elsewhere
    unit = unit_dir / UNIT
    config = config_dir / "config.toml"
    credential = None if user else config_dir / CREDENTIAL
    try:
        unit_dir.mkdir(parents=True, exist_ok=True)
        config_dir.mkdir(parents=True, exist_ok=True)
        unit.write_text(unit_text)
        unit.chmod(0o644)
        config_written = not config.exists()
        if config_written:
            config.write_text(config_template())
            config.chmod(config_mode)
        if credential is not None and not credential.exists():
            # LoadCredential= fails the start when its file is missing; an empty one is
            # only read when the config asks for it.
            credential.touch(mode=0o600)
    except PermissionError as e:
        raise AssistantError(
            f"cannot write {e.filename}: permission denied; the system unit needs root "
            f"(sudo {exec_start.split()[0]} install-service), or use --user"
        ) from None
    except OSError as e:
        raise AssistantError(f"cannot write {e.filename}: {e.strerror}") from None
    ctl = "systemctl --user" if user else ("systemctl" if os.geteuid() == 0 else "sudo systemctl")
    journal = "journalctl --user" if user else "journalctl"
    commands = [
        f"{ctl} daemon-reload",
        f"{ctl} enable --now {UNIT}",
        f"{journal} -u {UNIT} -f",
    ]
    result = Installation(unit, config, config_written, credential, commands)
    if not user:
        for path in (Path(exec_start.split()[0]), PROJECT_ROOT / "models.toml"):
            if not _readable_by_others(path):
                result.warnings.append(
                    f"{path} is not readable by other users, and the system unit runs as "
                    f"a user of its own: install into {TEMPLATE_ROOT}, or use --user"
                )
                break
    elif os.geteuid() == 0:
        result.warnings.append("--user as root installs it in root's own user manager")
    return result


def report(inst: Installation, user: bool) -> str:
    lines = [f"wrote {inst.unit}"]
    if inst.config_written:
        lines.append(f"wrote {inst.config} (every setting commented out: the defaults)")
    else:
        lines.append(f"kept {inst.config} (it exists)")
    if inst.credential is not None:
        lines.append(
            f"the MQTT password, if any, goes in {inst.credential} (root only), with "
            f'password_credential = "{CREDENTIAL}" in the config'
        )
    lines += [f"warning: {w}" for w in inst.warnings]
    lines.append("to enable and start it:")
    lines += [f"  {c}" for c in inst.commands]
    if user:
        lines.append("to keep it running without a login session:")
        lines.append("  loginctl enable-linger $USER")
    return "\n".join(lines)


def _under_homes(project_root: Path, exec_start: str) -> bool:
    paths = [project_root.resolve(), Path(exec_start.split()[0]).resolve()]
    homes = (Path("/home"), Path("/root"), Path("/run/user"))
    return any(p.is_relative_to(h) for p in paths for h in homes)


def _readable_by_others(path: Path) -> bool:
    """Every directory above `path` searchable by others, and `path` readable by them."""
    try:
        resolved = path.resolve()
        if not resolved.stat().st_mode & stat.S_IROTH:
            return False
        return all(p.stat().st_mode & stat.S_IXOTH for p in resolved.parents)
    except OSError:
        return False
