"""Does a question ask about a place no document covers ("杭州余杭区的…", "新疆的工业园区…")?

The documents answer for their own regions; a question about another city or province is not
answered by them, however close its words are to a clause. Search uses this as a feature of
relevance (kb.calibration.Features.elsewhere).

Place names come from jieba's own dictionary, the words tagged `ns` (place) that end in an
administrative suffix (杭州市, 余杭区, 新疆维吾尔自治区), and the part before the suffix when
jieba also tags that part a place (杭州, 新疆). A bare ns word without a suffix is not taken:
jieba tags words such as 镇里 or 上岗 ns. The documents' own regions and their stems are
places too (`own_places`), since jieba does not tag every stem (平凉, 鹿城): without them a
question about 平凉 named no place, and a clause of 江西's document could outrank 平凉's
first ones (recall@1 on the development sets rose 0.786 → 0.800 and 0.750 → 0.781 with them,
and on the tuning half 0.866 → 0.881).

A question asks about elsewhere when it names at least one such place and every place it
names is unknown to the documents: neither it nor its stem (平凉县 → 平凉) is a segment of a
document's region (with or without its suffix) or anywhere in their text (井冈山 is named by
江西's document, so a question about it is not elsewhere). It does too when one place it
names is unknown to the documents and of their own administrative level or a coarser one, by
its suffix (`level`): 上海闵行区 to 上海市/嘉定区's document, 甘肃天水市 to 甘肃省/平凉市's, since
places of one level do not overlap; a district a city's document does not name may still be
that city's.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from functools import cache

from kb.normalize import normalize
from kb.tags import tags

__all__ = ["Places", "level", "named", "own_places", "place_names"]

_SUFFIX = re.compile(
    r"^(.{2,}?)(?:维吾尔自治区|壮族自治区|回族自治区|自治区|自治州|自治县|特别行政区|省|市|县|区|州|盟)$"
)


# Administrative levels by suffix, coarsest first. Zones named like districts (新区, 开发区,
# 高新区 …) lie inside a city or county and have no level here.
_LEVELS = (
    re.compile(r"(?:省|自治区|特别行政区)$"),
    re.compile(r"(?:市|自治州|州|盟)$"),
    re.compile(r"(?<![新发开园业技税范])(?:区|县|旗)$"),
)


def level(place: str) -> int | None:
    """0 for a province, 1 for a city, 2 for a county or district, by the suffix the name is
    written with; None without one (平凉, 嘉定) or for a zone (兰州新区, 井冈山经开区)."""
    return next((n for n, suffix in enumerate(_LEVELS) if suffix.search(place)), None)


@cache
def place_names() -> frozenset[str]:
    """Place names from jieba's dictionary (module docstring); read once per process."""
    tagged = tags().places
    suffixed = {name for name in tagged if len(name) >= 3 and _SUFFIX.match(name)}
    stems = {m.group(1) for name in suffixed if (m := _SUFFIX.match(name))}
    return frozenset(suffixed | (stems & tagged))


@cache
def _longest() -> int:
    return max(map(len, place_names()), default=0)


def named(question: str, own: Collection[str] = ()) -> list[str]:
    """The place names in `question`, longest first at each position, in order: jieba's
    (`place_names`) and `own`, the documents' own (`own_places`)."""
    names = place_names()
    longest = max(_longest(), max(map(len, own), default=0))
    text = normalize(question)
    found: list[str] = []
    i = 0
    while i < len(text):
        for n in range(min(longest, len(text) - i), 1, -1):
            if text[i : i + n] in names or text[i : i + n] in own:
                found.append(text[i : i + n])
                i += n
                break
        else:
            i += 1
    return found


def _with_stem(place: str) -> tuple[str, ...]:
    """`place`, and its stem without the administrative suffix when it has one (平凉市, 平凉)."""
    match = _SUFFIX.match(place)
    return (place, match.group(1)) if match else (place,)


def own_places(regions: Iterable[str]) -> frozenset[str]:
    """The places of region paths ("甘肃省/平凉市"): each segment, and its stem without the
    administrative suffix (平凉). jieba does not know every stem as a place (平凉, 鹿城 and 合肥
    are not tagged ns), but a document's own region is a place by definition."""
    return frozenset(
        name
        for region in regions
        for segment in region.split("/")
        if segment
        for name in _with_stem(segment)
    )


class Places:
    """The places a set of documents covers: their regions, and the text they name places in."""

    def __init__(self, regions: Iterable[str], text: str) -> None:
        regions = list(regions)
        self._known = own_places(regions)
        self._text = text
        # The finest level the documents cover everywhere (嘉定区: 2; 江西省: 0): a question
        # naming another place of that level or coarser is about somewhere else.
        finest = [level(r.rsplit("/", 1)[-1]) for r in regions if r]
        self._level = min((n for n in finest if n is not None), default=None)

    def knows(self, place: str) -> bool:
        """Whether the documents cover `place`, or its stem without the administrative suffix:
        a person writes 平凉县 or 南昌县 for the county of a city a document covers."""
        return any(n in self._known or n in self._text for n in _with_stem(place))

    def elsewhere(self, places: Sequence[str]) -> bool:
        """True when a question names `places` (`named`) and none of them is known to the
        documents, or one of them is an unknown place of the documents' own level or a
        coarser one: 上海闵行区 is not 上海市嘉定区, though both are in 上海; a city's document
        still answers for a district it does not name (平凉 and 崆峒区)."""
        if not places:
            return False
        unknown = [p for p in places if not self.knows(p)]
        if len(unknown) == len(places):
            return True
        return self._level is not None and any(
            (n := level(p)) is not None and n <= self._level for p in unknown
        )
