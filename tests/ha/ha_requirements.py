"""Print the pip requirements of the integrations the test config loads.

Runs INSIDE the Home Assistant root with its venv's interpreter
(`chroot ROOT /venv/bin/python /ha_requirements.py CONFIG_DIR`), at build
time, so that Home Assistant never has to install anything at run time
(it is started with --skip-pip).  It resolves, from the integrations'
manifest.json files, every integration Home Assistant sets up for the
given config directory: the core/default ones from homeassistant.bootstrap,
the top-level domains of every *.yaml in it (configuration.yaml and the
fragments rig.py may append to it, e.g. mqtt.yaml), the platforms the demo
integration forwards, and all their dependencies and after_dependencies.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import homeassistant
from homeassistant import bootstrap

COMPONENTS = Path(homeassistant.__file__).parent / "components"


def manifest(domain: str) -> dict[str, Any] | None:
    path = COMPONENTS / domain / "manifest.json"
    return json.loads(path.read_text()) if path.is_file() else None


def config_domains(config_dir: Path) -> set[str]:
    text = "\n".join(p.read_text() for p in sorted(config_dir.glob("*.yaml")))
    return {m.group(1) for m in re.finditer(r"^([a-z_]+):", text, re.M)}


def main() -> None:
    config_dir = Path(sys.argv[1])
    start = set(config_domains(config_dir))
    start |= bootstrap.CORE_INTEGRATIONS | bootstrap.DEFAULT_INTEGRATIONS
    start |= bootstrap.LOGGING_AND_HTTP_DEPS_INTEGRATIONS
    if "demo" in start:
        from homeassistant.components import demo

        start |= {str(p) for p in demo.COMPONENTS_WITH_CONFIG_ENTRY_DEMO_PLATFORM}
        start |= {str(p) for p in demo.COMPONENTS_WITH_DEMO_PLATFORM}
    seen: set[str] = set()
    todo = sorted(start)
    reqs: dict[str, str] = {}
    while todo:
        domain = todo.pop()
        if domain in seen:
            continue
        seen.add(domain)
        m = manifest(domain)
        if m is None:
            continue
        # after_dependencies are only set up when configured anyway, but a
        # missing one can still be imported; be generous.
        for dep in (*m.get("dependencies", []), *m.get("after_dependencies", [])):
            if dep not in seen:
                todo.append(dep)
        for req in m.get("requirements", []):
            reqs.setdefault(req, domain)
    for req, domain in sorted(reqs.items()):
        print(f"{req}  # {domain}")


if __name__ == "__main__":
    main()
