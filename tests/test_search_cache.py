"""The Searcher's answer cache (server.search, server.search_cache): a remembered answer is the
answer, for every question of tests/data; the cache is bounded, off at 0, dropped by a
reload, and safe under threads."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from kb.embed import FloatMatrix, HashEmbedder
from server.config import Settings, SettingsError
from server.search_cache import CachedQueries, Lru
from server.service import Service
from tests.conftest import ROOT, fast_runtime

DATA = ROOT / "tests" / "data"
# A region and a day on which its routing rules are in force, for questions that name none.
PLACES = [
    ("甘肃省/平凉市", "2024-06-01"),
    ("江西省", "2019-06-01"),
    ("上海市/嘉定区", "2024-06-01"),
    ("浙江省/温州市/鹿城区", "2017-06-01"),
    ("四川省/成都市", "2024-06-01"),
]


def strings_under(node: Any, keys: Sequence[str]) -> Iterator[str]:
    """Every string of `node` under one of `keys`, or in a list under one of them."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in keys and isinstance(value, str):
                yield value
            elif key in keys and isinstance(value, list):
                yield from (v for v in value if isinstance(v, str))
            else:
                yield from strings_under(value, keys)
    elif isinstance(node, list):
        for item in node:
            yield from strings_under(item, keys)


def data_questions() -> list[str]:
    """Every question of every file in tests/data, once."""
    found: dict[str, None] = {}
    for path in sorted(DATA.glob("*.yaml")):
        text = path.read_text("utf-8")
        found.update(
            (q, None) for q in strings_under(yaml.safe_load(text), ("question", "query", "queries"))
        )
    return list(found)


QUESTIONS = data_questions()
# Two phrasings of one matter share an entry: each must still get its own right answer.
SAME_MATTER = [
    ("化工园区清理整顿由谁牵头？", "江西省", "2019-06-01"),
    ("化工园区清理整顿谁负责", "江西省", "2019-06-01"),
    ("化工园区清理整顿", "江西省", "2019-06-01"),
    ("园区日常协调服务由哪个部门负责？", "甘肃省/平凉市", "2024-06-01"),
    ("园区日常协调服务找谁", "甘肃省/平凉市", "2024-06-01"),
    # the same matter on another day, when no rule is in force, and with other k
    ("化工园区清理整顿由谁牵头？", "江西省", "2024-06-01"),
    ("园区日常协调服务由哪个部门负责？", "甘肃省/平凉市", "2023-09-01"),
]


def settings(cache: Path, size: int | None = None, root: Path = ROOT) -> Settings:
    env = {"ZHENGCE_CACHE": str(cache)}
    if size is not None:
        env["ZHENGCE_SEARCH_CACHE"] = str(size)
    return Settings.from_env(env, root=root)


class Counting(HashEmbedder):
    """HashEmbedder that counts the questions it embeds."""

    def __init__(self) -> None:
        super().__init__()
        self.queries = 0

    def encode_queries(self, texts: Sequence[str]) -> FloatMatrix:
        self.queries += len(texts)
        return super().encode_queries(texts)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("search-cache")


@pytest.fixture(scope="module")
def plain(cache: Path) -> Service:
    return Service.load(settings(cache, 0), embedder=HashEmbedder())


@pytest.fixture(scope="module")
def remembering(cache: Path) -> Service:
    # Room for every answer asked below: a cache smaller than a loop over its keys would
    # drop each one before it is asked again (bounds are tested apart).
    return Service.load(settings(cache, 10_000), embedder=Counting())


def embedded(service: Service) -> int:
    counting = service.embedder
    assert isinstance(counting, Counting)
    return counting.queries


def route_cases() -> list[tuple[str, str, str, int]]:
    """Every question in two regions; the same-matter ones also with another k."""
    cases = [(q, region, date, 5) for q in QUESTIONS for region, date in PLACES[:2]]
    return cases + [(*a, k) for a in SAME_MATTER for k in (5, 3)]


def test_remembered_routes_are_the_answers(plain: Service, remembering: Service) -> None:
    cases = route_cases()
    assert len(cases) > 500  # every question of tests/data, in two regions
    # Of the service, and of the Searcher itself, also on days no rule is in force (the
    # service answers those without it).
    want = {a: (plain.route(*a), plain.searcher.route_text(*a)) for a in cases}
    for attempt in ("miss", "hit"):
        before = embedded(remembering)
        for a in cases:
            got = (remembering.route(*a), remembering.searcher.route_text(*a))
            assert got == want[a], (attempt, a)
    assert embedded(remembering) == before  # the second time, every answer was remembered


def test_remembered_searches_are_the_answers(plain: Service, remembering: Service) -> None:
    for attempt in ("miss", "hit"):
        before = embedded(remembering)
        for i, query in enumerate(QUESTIONS):
            k = 10 if i % 2 else 4
            # a third of the questions also within a region (the others once, for time)
            for region in (None, PLACES[i % len(PLACES)][0])[: 1 + (i % 3 == 0)]:
                want = plain.search(query, k, region)
                assert remembering.search(query, k, region) == want, (attempt, query, region)
    assert embedded(remembering) == before


@pytest.mark.parametrize(
    ("size", "asked", "kept"),
    [
        (0, ["a", "b", "a"], []),
        (2, ["a", "b", "c"], ["b", "c"]),
        (2, ["a", "b", "a", "c"], ["a", "c"]),  # "a", asked again, outlives "b"
        (3, ["a", "a", "a"], ["a"]),
    ],
)
def test_the_cache_keeps_the_most_recently_asked(
    size: int, asked: list[str], kept: list[str]
) -> None:
    lru: Lru[str, str] = Lru(size)
    computed: list[str] = []

    def compute(key: str) -> str:
        computed.append(key)
        return key.upper()

    for key in asked:
        assert lru.get(key, lambda key=key: compute(key)) == key.upper()
    assert len(lru) == len(kept)
    before = len(computed)
    for key in kept:
        lru.get(key, lambda key=key: compute(key))
    assert len(computed) == before  # all still there


def test_a_failed_answer_is_not_remembered() -> None:
    lru: Lru[str, int] = Lru(4)

    def fail() -> int:
        raise RuntimeError("model gone")

    with pytest.raises(RuntimeError):
        lru.get("q", fail)
    assert lru.get("q", lambda: 1) == 1


@pytest.mark.parametrize(("size", "embedded"), [(0, 6), (8, 2)])
def test_size_0_turns_remembering_off(cache: Path, size: int, embedded: int) -> None:
    """Three requests of two matters, each asked three times: with the cache each matter's
    question is embedded once (the other two requests find the vector or the answer)."""
    embedder = Counting()
    service = Service.load(settings(cache, size), embedder=embedder)
    service.searcher.route_index()
    for region, date in PLACES[:3]:
        service.route("园区日常协调服务由谁负责", region, date)
        service.route("化工园区清理整顿由谁牵头", region, date)
    assert embedder.queries == embedded
    assert len(service.searcher._routed) == (6 if size else 0)


def test_query_vectors_are_remembered_read_only() -> None:
    inner = Counting()
    vectors = CachedQueries(inner, 2)
    first = vectors.encode_queries(["园区"])
    assert np.array_equal(first, inner.encode_queries(["园区"]))
    again = vectors.encode_queries(["园区"])
    assert again is first and not again.flags.writeable
    assert inner.queries == 2  # the one above, and the check
    both = vectors.encode_queries(["园区", "厂房"])  # a batch is not kept
    assert both.shape == (2, inner.dim) and inner.queries == 4
    assert (vectors.dim, vectors.fingerprint) == (inner.dim, inner.fingerprint)


def test_a_reload_drops_the_remembered_answers(tmp_path: Path) -> None:
    """A note of the matched rule changes: same items, same index, same match, so only a
    cache that outlived the policy set would still give the old note."""
    root = tmp_path / "project"
    shutil.copytree(ROOT / "policies", root / "policies")
    runtime = fast_runtime(tmp_path, root)
    try:
        ask = ("园区重大事项和困难问题找谁协调", "甘肃省/平凉市", "2024-06-01")
        runtime_revision = runtime.service.policies.revision
        before = runtime.service.route(*ask)
        assert before.answer is not None and before.answer.rule == "pingliang-2023/重大事项包抓"
        assert runtime.service.route(*ask) == before  # remembered
        path = root / "policies" / "pingliang-2023.zc"
        old = '注 "句子主语是市园区办'
        path.write_text(
            path.read_text("utf-8").replace(old, '注 "已改：句子主语是市园区办'), "utf-8"
        )
        assert runtime.reload().revision != runtime_revision
        after = runtime.service.route(*ask)
        assert after.answer is not None and after.answer.rule == before.answer.rule
        assert after.answer.notes != before.answer.notes
        assert after.answer.notes[0].startswith("已改")
    finally:
        runtime.close()


def test_threads_share_one_small_cache(plain: Service, cache: Path) -> None:
    """Eight threads ask twelve questions over and over of a cache that holds five: answers
    are computed, evicted and found at once, and every one is the answer."""
    service = Service.load(settings(cache, 5), embedder=HashEmbedder())
    asked = [(q, *PLACES[i % 2]) for i, q in enumerate(QUESTIONS[:12])]
    want = {a: plain.route(*a) for a in asked}
    wrong: list[tuple[str, str, str]] = []

    def work(offset: int) -> None:
        for n in range(60):
            a = asked[(n + offset) % len(asked)]
            if service.route(*a) != want[a]:
                wrong.append(a)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not wrong
    assert len(service.searcher._routed) <= 5


@pytest.mark.parametrize(("value", "size"), [("0", 0), ("17", 17), ("", 1024)])
def test_the_size_is_a_setting(value: str, size: int) -> None:
    assert Settings.from_env({"ZHENGCE_SEARCH_CACHE": value}).search_cache == size


@pytest.mark.parametrize("value", ["-1", "many"])
def test_a_bad_size_is_refused(value: str) -> None:
    with pytest.raises(SettingsError, match="ZHENGCE_SEARCH_CACHE"):
        Settings.from_env({"ZHENGCE_SEARCH_CACHE": value})
