"""Where a permit is: its location names a node of the area tree, and places compare by the tree."""
from __future__ import annotations

import difflib
import unicodedata

from models.area import Area, nearest, parents, within
from models.org import Person
from models.permit import Permit

from .errors import InvalidPermit

# Between a node's name and the exact spot the applicant may write these, or nothing at all.
SPOT_SEPARATORS = " \t-—–·,，、:：/"


class UnknownPlace(InvalidPermit):
    """The location names no node of the plant's area tree."""


def fold(text: str) -> str:
    """Return text without spaces, in NFKC and lower case, for comparing names people type."""
    return "".join(unicodedata.normalize("NFKC", text or "").split()).casefold()


def has_tree() -> bool:
    """True when the plant has loaded an area tree (a plant without one keeps free-text places)."""
    return Area.select().where(Area.active == True).exists()  # noqa: E712


def _active() -> list[Area]:
    return list(Area.select().where(Area.active == True).order_by(Area.id))  # noqa: E712


def node_named(name: str) -> Area | None:
    """Return the node a place's name stands for: a node's name, or a path down to one, and nothing more."""
    node, spot = split(name)
    return node if node is not None and not spot else None


def _longest_prefix(text: str, areas: list[Area]) -> tuple[Area, str] | None:
    best = None
    for area in areas:
        name = unicodedata.normalize("NFKC", area.name)
        if text.casefold().startswith(name.casefold()) and (best is None or len(name) > len(best[1])):
            best = (area, name)
    return best


def split(location: str) -> tuple[Area | None, str]:
    """Return the node a location names, and the exact spot written after it.

    The location starts with a node's name, the longest that fits: "11#罐区 东侧" is 11#罐区, never
    1#罐区, because that is not how it starts. Names of places under that node may follow, each
    taking the match one level down ("常减压装置 V-101" is V-101 if V-101 lies under 常减压装置).
    """
    text = unicodedata.normalize("NFKC", location or "").strip()
    active = _active()
    found = _longest_prefix(text, active)
    if found is None:
        return None, text
    parent_of = {a.id: a.parent_id for a in active}
    node, rest = found[0], text[len(found[1]):].strip(SPOT_SEPARATORS)
    while rest:
        below = [a for a in active if a.id != node.id and within(a.id, node.id, parent_of)]
        deeper = _longest_prefix(rest, below)
        if deeper is None:
            break
        node, rest = deeper[0], rest[len(deeper[1]):].strip(SPOT_SEPARATORS)
    return node, rest


def suggestions(location: str, limit: int = 3) -> list[str]:
    """Return the names of the nodes nearest to what was written, best first."""
    names = [a.name for a in _active()]
    by_fold = {fold(n): n for n in names}
    text = fold(location)
    inside = sorted((n for n in names if fold(n) and fold(n) in text), key=lambda n: -len(n))
    close = [by_fold[k] for k in difflib.get_close_matches(text, list(by_fold), n=limit, cutoff=0.3)]
    return list(dict.fromkeys(inside + close))[:limit]


def place_of(location: str) -> Area | None:
    """Return the node a permit's location names; refuse a place not in the tree (None: no tree)."""
    if not has_tree():
        return None
    area, _spot = split(location)
    if area is not None:
        return area
    near = suggestions(location)
    hint = f"最接近的是：{'、'.join(near)}。" if near else ""
    raise UnknownPlace(f"作业地点“{location.strip()}”不在本厂区域表中。{hint}"
                       f"请以区域名称开头填写，具体部位写在其后，例如“{(near or ['1#罐区'])[0]} 东侧管廊”")


def area_of(permit: Permit) -> Area | None:
    """Return the permit's node: the one stored, or (for a permit from before the tree) its location's."""
    if permit.area_id is not None:
        return permit.area
    return split(permit.location)[0] if has_tree() else None


def coverage(place: str):
    """Return a test of whether the place named (a detector's area, an authorised area) includes a permit's.

    A node covers itself and everything under it. Without a node of that name, only the very same
    text counts: a name contained in another ("1#罐区" in "11#罐区") never does. The tree is read
    once, so testing many permits costs no more queries.
    """
    node, parent_of = node_named(place), parents()

    def test(permit: Permit) -> bool:
        target_id = permit.area_id
        if target_id is None:
            target = area_of(permit)
            target_id = target.id if target is not None else None
        if node is not None and target_id is not None:
            return within(target_id, node.id, parent_of)
        return bool(fold(place)) and fold(place) == fold(permit.location)
    return test


def covers(place: str, permit: Permit) -> bool:
    """True when the place named includes the permit's place (see coverage)."""
    return coverage(place)(permit)


def meets(a: Permit, b: Permit, parent_of: dict[int, int | None] | None = None) -> bool:
    """True when two permits' places overlap: the same node, or one under the other."""
    first, second = area_of(a), area_of(b)
    if first is None or second is None:
        return bool(fold(a.location)) and fold(a.location) == fold(b.location)
    parent_of = parents() if parent_of is None else parent_of
    return within(first.id, second.id, parent_of) or within(second.id, first.id, parent_of)


def coordinator_of(permit: Permit) -> Person | None:
    """Return who coordinates overlapping work for permit: the one the applicant named, else the area's."""
    if permit.coordinator_id is not None:
        return permit.coordinator
    area = area_of(permit)
    return nearest(area, "coordinator") if area is not None else None


EARTH_RADIUS_M = 6_371_000.0


def fence_of(permit: Permit) -> Area | None:
    """Return the nearest node, from the permit's own up the tree, that has coordinates and a radius."""
    node = area_of(permit)
    while node is not None:
        if node.latitude is not None and node.longitude is not None and node.radius:
            return node
        node = node.parent
    return None


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Return the great-circle distance in metres between two WGS-84 points (haversine)."""
    from math import asin, cos, radians, sin, sqrt
    dlat, dlng = radians(lat2 - lat1), radians(lng2 - lng1)
    a = sin(dlat / 2) ** 2 + cos(radians(lat1)) * cos(radians(lat2)) * sin(dlng / 2) ** 2
    return 2 * EARTH_RADIUS_M * asin(sqrt(a))
