"""The connection to Home Assistant's WebSocket API (through `hass-client`), for the life of
the daemon: the exposed entities become the home's devices, their states its readings, and
commands to them service calls.

Kept in step without a restart: a state change comes as an event; a rename, a new device or
area (the registries' `*_registry_updated` events) reads the registries again, and so does a
timer every `refresh_s` (what is exposed to Assist changes with no event). Home Assistant
unreachable, restarting or refusing the token: one logged error, the devices it last gave
stay, and the link is re-made with a growing pause (2 s to 60 s). A command to a device
while it is away is logged as not sent."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from typing import Any

from aiohttp import ClientSession
from hass_client import HomeAssistantClient
from hass_client.exceptions import AuthenticationFailed, BaseHassClientError

from assistant.config import HomeAssistantSection
from assistant.core.home import Home
from assistant.core.intents import DeviceAction
from assistant.integrations.homeassistant.entities import (
    HOME_ASSISTANT,
    Entity,
    entities,
    exposed_ids,
    reading,
    service_call,
)
from assistant.integrations.secrets import read_secret

log = logging.getLogger("assistant.integrations.homeassistant")

REGISTRY_EVENTS = ("entity_registry_updated", "device_registry_updated", "area_registry_updated")


def what_went_wrong(e: BaseException) -> str:
    if isinstance(e, AuthenticationFailed):
        return f"it refused the token ({e}): make a new long-lived access token"
    return str(e) or type(e).__name__


async def running(client: HomeAssistantClient, timeout_s: float = 300) -> dict[str, Any]:
    """Until Home Assistant says it is running: it answers on its WebSocket while it starts,
    before its integrations have made their entities (read then, a restarting Home
    Assistant had no devices, and they were all forgotten)."""
    started = asyncio.Event()
    stop = await client.subscribe_events(lambda e: started.set(), "homeassistant_started")
    try:
        config: dict[str, Any] = await client.send_command("get_config")
        if config.get("state") != "RUNNING":
            async with asyncio.timeout(timeout_s):
                await started.wait()
            config = await client.send_command("get_config")
    finally:
        stop()
    return config


def websocket_url(url: str) -> str:
    return url.rstrip("/").replace("http", "ws", 1) + "/api/websocket"


class HomeAssistantLink:
    def __init__(self, cfg: HomeAssistantSection, token: str, home: Home) -> None:
        assert cfg.url is not None
        self.cfg, self.home = cfg, home
        self._token = token
        self._client: HomeAssistantClient | None = None
        self._by_name: dict[str, Entity] = {}
        self._by_id: dict[str, Entity] = {}
        self._resync = asyncio.Event()
        self._fahrenheit = False
        """Home Assistant's unit system is °F (its `get_config`, as it last said)."""
        self._outage = False
        """The link was lost (or never made), and that has been said."""
        self.connected = asyncio.Event()
        self._calls: set[asyncio.Task[None]] = set()

    @classmethod
    def for_config(cls, cfg: HomeAssistantSection, home: Home) -> HomeAssistantLink:
        """As `[homeassistant]` asks, its token read now (one that cannot be read is a
        ConfigError before anything loads)."""
        token = read_secret(
            "homeassistant", "token", file=cfg.token_file, credential=cfg.token_credential,
            what="a long-lived access token",
        )  # fmt: skip
        assert token is not None  # (one of the two is required with a url)
        return cls(cfg, token, home)

    # ------------------------------------------------------------------ commands

    def send(self, action: DeviceAction) -> None:
        """The command as a service call, sent in the background (its failure is logged)."""
        entity = self._by_name.get(action.device)
        call = None if entity is None else service_call(entity, action)
        if entity is None or call is None:
            log.warning("home assistant: %s cannot take %s", action.device, action.command)
            return
        task = asyncio.get_running_loop().create_task(self._call(entity, *call))
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)

    async def _call(self, entity: Entity, domain: str, service: str, data: dict[str, Any]) -> None:
        client = self._client
        if client is None or not client.connected:
            log.error("home assistant: not connected: %s.%s for %s not sent", domain, service,
                      entity.entity_id)  # fmt: skip
            return
        try:
            await client.call_service(domain, service, data, {"entity_id": entity.entity_id})
        except BaseHassClientError as e:
            log.error("home assistant: %s.%s for %s failed: %s", domain, service,  # noqa: TRY400
                      entity.entity_id, e)  # fmt: skip

    # ------------------------------------------------------------------ connection

    async def run(self) -> None:
        """Connect, and connect again, until cancelled."""
        pause = 2.0
        while True:
            try:
                async with ClientSession() as session:
                    await self._session(session)
                pause = 2.0  # it had worked: the next attempt is soon
                problem = "the connection closed"
            except (BaseHassClientError, OSError) as e:
                problem = what_went_wrong(e)
            finally:
                self.connected.clear()
                self._client = None
            if not self._outage:
                log.error(
                    "home assistant: %s: %s; going on with the %d devices it last gave, "
                    "and trying again", self.cfg.url, problem, len(self._by_name),
                )  # fmt: skip
                self._outage = True
            await asyncio.sleep(pause * random.uniform(0.8, 1.2))
            pause = min(60.0, pause * 2)

    async def once(self) -> None:
        """Read the devices and their states once (for a listing), and disconnect."""
        assert self.cfg.url is not None
        async with ClientSession() as session:
            client = HomeAssistantClient(websocket_url(self.cfg.url), self._token, session)
            await client.connect()
            listener = asyncio.create_task(client.start_listening())
            try:
                await self._running(client)
                await self._sync(client)
            finally:
                await client.disconnect()
                listener.cancel()

    def entities(self) -> list[Entity]:
        return list(self._by_name.values())

    async def _session(self, session: ClientSession) -> None:
        assert self.cfg.url is not None
        client = HomeAssistantClient(websocket_url(self.cfg.url), self._token, session)
        await client.connect()
        listener = asyncio.create_task(client.start_listening(), name="home-assistant-listen")
        tasks = [listener]
        try:
            self._client = client
            await client.subscribe_events(self._state_changed, "state_changed")
            for event in REGISTRY_EVENTS:
                await client.subscribe_events(lambda e: self._resync.set(), event)
            await self._running(client)
            await self._sync(client)
            if self._outage:
                log.warning("home assistant: connected again to %s", self.cfg.url)
                self._outage = False
            else:
                log.info("home assistant: connected to %s (version %s)", self.cfg.url,
                         client.version)  # fmt: skip
            self.connected.set()
            tasks.append(asyncio.create_task(self._resyncs(client), name="home-assistant-sync"))
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # its error, if it ended on one
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)  # off the client, then close it
            with contextlib.suppress(asyncio.CancelledError, BaseHassClientError):
                await client.disconnect()

    async def _running(self, client: HomeAssistantClient) -> None:
        """Until Home Assistant runs; then its unit system."""
        config = await running(client)
        self._fahrenheit = config.get("unit_system", {}).get("temperature") == "°F"

    async def _resyncs(self, client: HomeAssistantClient) -> None:
        """Read the devices again on a registry event, and every `refresh_s`."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.cfg.refresh_s):
                    await self._resync.wait()
            self._resync.clear()
            await asyncio.sleep(0.2)  # a rename is several registry events at once
            await self._sync(client)

    async def _sync(self, client: HomeAssistantClient) -> None:
        """Read the registries, what is exposed and the states; give the home the devices."""
        exposed = exposed_ids(await client.send_command("homeassistant/expose_entity/list"))
        areas = await client.send_command("config/area_registry/list")
        devices = await client.send_command("config/device_registry/list")
        ids = sorted(exposed)
        entries = await client.send_command("config/entity_registry/get_entries", entity_ids=ids)
        registry = [e for e in (entries or {}).values() if e]
        states = await client.send_command("get_states")
        found = entities(areas, devices, registry, exposed, states, self._fahrenheit)
        self._by_name = {e.device.name: e for e in found}
        self._by_id = {e.entity_id: e for e in found}
        if self.home.found(HOME_ASSISTANT, [e.device for e in found]):
            names = ", ".join(sorted(self._by_name)) or "none"
            log.info("devices from home assistant: %s", names)
        for state in states:
            if (entity := self._by_id.get(state.get("entity_id", ""))) is not None:
                self.home.read(entity.device.name, reading(entity, state), replace=True)

    def _state_changed(self, event: Any) -> None:
        data = event.get("data", {})
        entity = self._by_id.get(data.get("entity_id", ""))
        new = data.get("new_state")
        if entity is None:
            return
        if new is None:  # removed: the registries say what is left
            self._resync.set()
            return
        name = str(new.get("attributes", {}).get("friendly_name", "")).lower()
        if name and name != entity.device.name:
            self._resync.set()  # renamed (a name given in the entity's settings)
        self.home.read(entity.device.name, reading(entity, new), replace=True)
