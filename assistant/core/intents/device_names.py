"""Which devices a phrase names: by name or alias, by room, by kind, "all the lights", "the
kitchen and hallway lights", "it" (the last command's), or a light or fan nearly named."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Literal

from assistant.core.intents.base import Device, DeviceKind, normalize
from assistant.core.intents.devices import (
    KIND_WORDS,
    PRONOUN,
    DeviceCommand,
    UnknownDevice,
    WhichDevice,
    kind_of,
    of_kind,
    plural,
)

NEAR_MISS_KINDS: tuple[DeviceKind, ...] = ("light", "fan")
"""Kinds whose name, nearly said after its room, still names them: speech recognition
mishears the last word ("the bedroom pen", "the kitchen lives"), and a light or a fan
switched by mistake is harmless and heard at once (the confirmation names it). A door, a
plug or the heating is only switched by its name."""
NEAR_MISS_RATIO = 0.8
"""How alike (difflib's ratio) the phrase and the name must be; and the name must be this
much nearer than those of the room's other devices, by a tenth."""


RoomCommand = Literal["on_off", "open_close", "set"]
BY_ROOM_ALONE: dict[RoomCommand, tuple[DeviceKind, ...]] = {
    "on_off": ("light", "fan"),
    "open_close": ("cover",),
    "set": ("climate", "cover"),
}
"""The kinds a room alone names, when it is all that was said, for each kind of command:
"set the living room to 21" is its thermostat, "open the garage" its door, "turn off the
kitchen" its lights. Not a door or the heating switched on or off by a room ("turn on the
garage" is not a reason to open the garage door), nor a plug, which could be anything."""


def find_device(
    phrase: str, devices: Sequence[Device], command: RoomCommand
) -> Device | WhichDevice | None:
    """The device the phrase names for this kind of command: the one whose name it is; for
    a room and nothing else, the one device of the room the command can mean
    (`BY_ROOM_ALONE`), or the question which (all the room's devices when it can mean
    none); failing that, the longest spoken name it contains; the one whose room and kind
    it mentions ("the lights in the hallway"); the light or fan of the room it mentions
    whose name it nearly says; for a kind alone ("the fan"), the only device of the kind,
    or the question which."""
    phrase = normalize(phrase)
    target = _article(phrase)
    named = [d for d in devices if target in d.spoken_names()]
    if len(named) == 1:
        return named[0]
    in_room = [d for d in devices if d.room and normalize(d.room) == target]
    if in_room:
        fit = [d for d in in_room if d.kind in BY_ROOM_ALONE[command]]
        if len(fit) == 1:
            return fit[0]
        return WhichDevice(tuple(d.name for d in fit or in_room), target)
    if (longest := longest_name_in(phrase, devices)) is not None:
        return longest
    words = set(phrase.split())
    by_room = [
        d
        for d in devices
        if d.room
        and re.search(rf"\b{re.escape(normalize(d.room))}\b", phrase)
        and words & set(KIND_WORDS[d.kind])
    ]
    if by_room:
        return by_room[0] if len(by_room) == 1 else None
    if (near := _near_miss(target, devices)) is not None:
        return near
    alike = of_kind(target, devices)
    if len(alike) > 1:
        return WhichDevice(tuple(d.name for d in alike), target)
    return alike[0] if alike else None


def ends_in_part_of_a_name(text: str, devices: Sequence[Device]) -> bool:
    """The words end in the first word or words of a device's name, not all of it ("open
    the garage": the garage door), or in its room ("turn on the kitchen": its lights, or a
    "ceiling light" there), which a word more may finish: a request understood whole may
    still go on."""
    words = normalize(text).split()
    for device in devices:
        room = normalize(device.room).split() if device.room else []
        if any(words[-k:] == room[:k] for k in range(1, len(room) + 1)):
            return True
        for name in device.spoken_names():
            parts = name.split()
            if any(words[-k:] == parts[:k] for k in range(1, len(parts))):
                return True
    return False


def longest_name_in(phrase: str, devices: Sequence[Device]) -> Device | None:
    """The device whose longest spoken name the phrase contains ("the bedroom lights and"
    is the bedroom lights, not the bedroom)."""
    best: tuple[int, Device] | None = None
    for device in devices:
        for name in device.spoken_names():
            if re.search(rf"\b{re.escape(name)}\b", phrase) and (
                best is None or len(name) > best[0]
            ):
                best = (len(name), device)
    return best[1] if best else None


def _article(phrase: str) -> str:
    return re.sub(r"^(?:the|my) ", "", phrase)


_ALL = re.compile(r"^(?:all|every|each) (?:of )?(?:the |my )?(.+)$")
_EVERYWHERE = re.compile(
    r"^(.+?) (?:everywhere|in every room|in all (?:the )?rooms|in the (?:whole )?house|"
    r"all over the house)$"
)
_AND = re.compile(r",? and (?:the |my )?|, (?:the |my )?")


@dataclass(frozen=True, slots=True)
class Named:
    """The devices a phrase names, and what "all" named when it named them so."""

    devices: tuple[Device, ...]
    all_of: str = ""


def find_devices(
    phrase: str,
    devices: Sequence[Device],
    command: RoomCommand,
    last: DeviceCommand | None = None,
) -> Named | WhichDevice | UnknownDevice:
    """The devices the phrase names: "all the lights" (in a room, where it names one):
    every device of the kind; "the kitchen and hallway lights", "the bedroom lights and
    the fan": each part by `find_device`, a room taking the kind said last; otherwise the
    one device `find_device` names, or its question; "it", "them": those of the `last`
    command. What names nothing is unknown."""
    target = _article(normalize(phrase))
    if PRONOUN.match(target):
        if last is None:
            return UnknownDevice(target)
        said = {a.device for a in last.actions}
        return Named(tuple(d for d in devices if d.name in said), last.all_of)
    group = _EVERYWHERE.sub(r"\1", target)  # "(all) the lights everywhere"
    group = _ALL.sub(r"\1", group)
    if group != target:
        return _all_of(_article(group), devices) or UnknownDevice(_article(group))
    parts = _AND.split(target)
    if len(parts) == 1 or any(target in d.spoken_names() for d in devices):
        one = find_device(target, devices, command)
        return Named((one,)) if isinstance(one, Device) else one or UnknownDevice(target)
    kind_word = parts[-1].split()[-1]
    found: list[Device] = []
    for part in (room for said in parts for room in _rooms(said, kind_word, devices)):
        one = None
        if kind_of(kind_word) and not kind_of(part.split()[-1]):
            one = find_device(f"{part} {kind_word}", devices, command)  # "the kitchen (lights)"
        if not isinstance(one, Device):
            one = find_device(part, devices, command)
        if not isinstance(one, Device):
            return one or UnknownDevice(part)
        found.append(one)
    return Named(tuple(dict.fromkeys(found)))


def _rooms(part: str, kind_word: str, devices: Sequence[Device]) -> list[str]:
    """A part of a list that is rooms with no comma between them (speech recognition's
    commas are not kept): "kitchen hallway" (and porch lights) is two rooms, unless it is
    a name."""
    if any(f"{part} {kind_word}" in d.spoken_names() or part in d.spoken_names() for d in devices):
        return [part]
    rooms = sorted({normalize(d.room) for d in devices if d.room}, key=len, reverse=True)
    out, rest = [], part
    while rest:
        room = next((r for r in rooms if rest == r or rest.startswith(r + " ")), None)
        if room is None:
            return [part]
        out.append(room)
        rest = rest[len(room) :].strip()
    return out


def _all_of(group: str, devices: Sequence[Device]) -> Named | None:
    """Every device of the kind the group says, in the room it says if it says one: "lights",
    "bedroom lights", "lights in the bedroom"."""
    if m := re.match(r"^(.+?) in (?:the |my )?(.+)$", group):
        kinds, room = m.group(1), m.group(2)
    else:
        room, _, kinds = group.rpartition(" ")
    found = tuple(d for d in of_kind(kinds, devices) if not room or normalize(d.room) == room)
    return Named(found, f"{room} {plural(kinds)}".strip()) if found else None


def _near_miss(target: str, devices: Sequence[Device]) -> Device | None:
    # The room said, as one word or two ("the bed room fan"): a mishearing keeps the room.
    joined = target.replace(" ", "")
    in_room = [d for d in devices if d.room and normalize(d.room).replace(" ", "") in joined]
    ranked = sorted(
        (
            (max(SequenceMatcher(None, target, n).ratio() for n in d.spoken_names()), d)
            for d in in_room
        ),
        key=lambda likeness_device: likeness_device[0],
        reverse=True,
    )
    if not ranked:
        return None
    (likeness, device), runner_up = ranked[0], max((r for r, _ in ranked[1:]), default=0.0)
    near = likeness >= NEAR_MISS_RATIO and likeness - runner_up >= 0.1
    return device if near and device.kind in NEAR_MISS_KINDS else None
