"""The reviewer's web page (server/web.py) through the real app: the form generated from the
fact schema, decisions shown from the log, policies and coverage, search, escaping."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.decision_log import DecisionLogError
from server.runtime import Runtime
from server.web import marked
from tests.conftest import EXAMPLE, ROOT, fast_runtime

# The example as a person types it into the form.
FORM = {
    "region": "甘肃省/平凉市/崆峒区",
    "park": "平凉工业园区",
    "park_level": "provincial",
    "land_use": "none",
    "category": "industrial",
    "investment_wan": "1200",
    "industry": "装备制造",
    "_date": "2024-03-01",
    "_explain": "on",
}
QUOTE = "对投资额度在1000万元以上的非供地类项目,由所在工业园区(高新区、集中区)报市园区办进行备案"
PATH = [("所在工业园区(高新区、集中区)", "报送"), ("市园区办", "备案")]


# ------------------------------------------------------------------------- a tiny DOM


VOID = {"input", "br", "meta", "link", "img", "hr", "source", "wbr", "area", "col"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text for c in self.children)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def all(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Node]:
        found = []
        for c in self.children:
            if isinstance(c, str):
                continue
            if (
                (tag is None or c.tag == tag)
                and (cls is None or cls in c.classes)
                and all(c.attrs.get(k.rstrip("_")) == v for k, v in attrs.items())
            ):
                found.append(c)
            found += c.all(tag, cls, **attrs)
        return found

    def one(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> Node:
        found = self.all(tag, cls, **attrs)
        assert len(found) == 1, f"expected one <{tag} {cls} {attrs}>, found {len(found)}"
        return found[0]


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v if v is not None else "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def dom(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def path_of(page: Node) -> list[tuple[str, str]]:
    """The approval path drawn on a decision page, in order."""
    section = page.one("section", **{"aria-labelledby": "h-path"})
    return [(li.one(cls="authority").text, li.one(cls="action").text) for li in section.all("li")]


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    tmp = tmp_path_factory.mktemp("web")
    rt = fast_runtime(tmp)
    yield rt
    rt.close()


@pytest.fixture(scope="module")
def client(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime.settings, runtime=runtime))


@pytest.fixture(scope="module")
def example_page(client: TestClient) -> tuple[str, Node]:
    """The example project submitted through the form: (decision id, decision page)."""
    r = client.post("/decide", data=FORM, follow_redirects=False)
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    assert location.startswith("/decisions/")
    page = client.get(location)
    assert page.status_code == 200
    return location.removeprefix("/decisions/"), dom(page.text)


# -------------------------------------------------------------------------------- form

# schema type -> (element, input type)
CONTROL = {
    "enum": ("select", None),
    "bool": ("select", None),
    "number": ("input", "number"),
    "date": ("input", "date"),
    "text": ("input", "text"),
    "region": ("input", "text"),
}


def test_the_form_has_one_control_per_schema_field(client: TestClient, runtime: Runtime) -> None:
    page = dom(client.get("/").text)
    form = page.one("form", action="/decide")
    fields = runtime.service.policies.schema.fields
    assert {f.type.kind for f in fields} <= set(CONTROL), "a field type the page does not know"
    problems = []
    for f in fields:
        controls = form.all(name=f.name)
        if len(controls) != 1:
            problems.append(f"{f.name}: {len(controls)} controls")
            continue
        control = controls[0]
        tag, kind = CONTROL[f.type.kind]
        if (control.tag, control.attrs.get("type")) != (tag, kind):
            problems.append(f"{f.name}: <{control.tag} type={control.attrs.get('type')}>")
        label = form.one("label", for_=control.attrs["id"]).text
        if f.label not in label or (f.type.unit and f.type.unit not in label):
            problems.append(f"{f.name}: label {label!r}")
        if ("required" in control.attrs) != f.required:
            problems.append(f"{f.name}: required marking")
        if tag == "select":
            options = [(o.attrs["value"], o.text) for o in control.all("option")]
            want = (
                [(v.name, v.label) for v in f.type.values]
                if f.type.kind == "enum"
                else [("true", "是"), ("false", "否")]
            )
            if options[1:] != want or options[0][0] != "":
                problems.append(f"{f.name}: options {options}")
            if not f.required and not options[0][1].startswith("未填"):
                problems.append(f"{f.name}: no 未填 option")
    assert problems == []
    names = {c.attrs["name"] for c in form.all() if c.tag in ("input", "select")}
    assert names == {f.name for f in fields} | {"_date", "_explain"}
    explain = form.one("input", name="_explain")
    assert explain.attrs["type"] == "checkbox" and "checked" in explain.attrs
    assert form.one("input", name="_date").attrs["type"] == "date"
    assert page.one("form", action="/decisions/lookup").attrs["method"] == "get"
    assert page.one("form", action="/search").one("input", name="q")
    assert page.all("a", href="/policies")


def test_an_example_prefills_the_form(client: TestClient) -> None:
    form = dom(client.get("/?_example=pingliang-non-land").text).one("form", action="/decide")
    project = EXAMPLE["project"]
    assert form.one("input", name="region").attrs["value"] == project["region"]
    assert form.one("input", name="investment_wan").attrs["value"] == "1200"
    selected = form.one("select", name="land_use").one("option", selected="")
    assert selected.attrs["value"] == project["land_use"]
    assert form.one("input", name="_date").attrs["value"] == EXAMPLE["date"]


# ---------------------------------------------------------------------------- decisions


def test_the_example_redirects_to_its_decision(
    example_page: tuple[str, Node], runtime: Runtime
) -> None:
    decision_id, page = example_page
    logged = runtime.decision(decision_id)
    assert logged is not None, "the page was shown before the decision was in the log"
    assert logged.input["project"]["investment_wan"] == 1200.0
    assert logged.input["explain"] is True and logged.input["date"] == "2024-03-01"
    assert squash(page.one(id="outcome").text) == "备案"
    assert squash(page.one(id="headline").text) == "备案：非供地项目备案（平凉 二.4）"
    assert page.one(id="decision-id").text == decision_id
    shown = path_of(page)
    assert shown == PATH
    assert shown == [(s["authority"], s["action"]) for s in logged.result["steps"]]


def test_a_citation_shows_the_whole_clause_with_the_quote_marked(
    example_page: tuple[str, Node], runtime: Runtime
) -> None:
    _, page = example_page
    citations = page.one(id="citations").all("article", cls="citation")
    assert [squash(c.one(cls="clause-id").text) for c in citations] == ["二.4"]
    clause = runtime.service.corpus.document("pingliang-2023").require("二.4").full_text
    body = citations[0].one("blockquote")
    assert body.text == clause
    assert [m.text for m in body.all("mark")] == [QUOTE]
    link = citations[0].one(cls="clause-id").attrs["href"]
    assert link.startswith("/policies/pingliang-2023#c-")


def test_each_step_links_to_the_clause_behind_it(
    example_page: tuple[str, Node], runtime: Runtime
) -> None:
    decision_id, page = example_page
    logged = runtime.decision(decision_id)
    assert logged is not None
    section = page.one("section", **{"aria-labelledby": "h-path"})
    anchors = {a.attrs["id"] for a in page.one(id="citations").all("article", cls="citation")}
    for li, step in zip(section.all("li"), logged.result["steps"], strict=True):
        links = li.all("a", cls="basis")
        wanted = list(dict.fromkeys((b["document"], b["clause"]) for b in step["basis"]))
        assert [squash(a.text) for a in links] == [f"依据 {clause}" for _, clause in wanted]
        for a in links:
            assert unquote(a.attrs["href"].removeprefix("#")) in anchors


def test_explain_shows_why_not_and_related_clauses(
    example_page: tuple[str, Node], runtime: Runtime
) -> None:
    decision_id, page = example_page
    result = runtime.decision(decision_id).result  # type: ignore[union-attr]
    rows = page.one(id="why-not").all("li")
    assert len(rows) == len(result["why_not"]) > 0
    by_rule = {r.attrs["data-rule"]: r for r in rows}
    plan = by_rule["pingliang-2023/供地类项目论证"]
    # The failing condition in plain Chinese with the actual value, not the rule's syntax.
    assert squash(plan.one("p", cls="why").text) == "✗ 用地方式须为新增建设用地，实为非供地"
    assert "项目." not in plan.text
    related = page.one("details", cls="related").all("li")
    assert len(related) == len(result["related"]) > 0


JIADING = {"region": "上海市/嘉定区", "category": "industrial", "_date": "2018-01-01"}
DECISIONS = [
    # (note, form, outcome shown on the page)
    ("the example", FORM, "备案"),
    ("是 for a true fact", {**FORM, "one_matter_one_discussion": "true"}, "审批"),
    ("否 for a false fact", {**FORM, "in_protected_area": "false"}, "备案"),
    ("below the threshold", {**FORM, "investment_wan": "999.5"}, "无适用规则"),
    ("new land", {**FORM, "land_use": "new_land"}, "审批"),
    ("against the plan", {**JIADING, "land_use": "new_land", "conforms_to_plan": "false"}, "禁止"),
    # The text leaves the lease-area boundary open: which office decides cannot be known.
    ("lease area open", {**JIADING, "land_use": "lease", "lease_area_m2": "5000"}, "未能确定"),
]


@pytest.mark.parametrize(("note", "form", "outcome"), DECISIONS, ids=[d[0] for d in DECISIONS])
def test_the_page_shows_the_decision_the_api_gives(
    client: TestClient, runtime: Runtime, note: str, form: dict[str, str], outcome: str
) -> None:
    """Form values typed as the JSON API takes them give the same decision."""
    schema = runtime.service.policies.schema
    project: dict[str, Any] = {}
    for name, raw in form.items():
        f = schema.field(name)
        if f is None:
            continue  # _date
        if f.type.kind == "number":
            project[name] = float(raw)
        else:
            project[name] = raw == "true" if f.type.kind == "bool" else raw
    want = runtime.service.evaluate(project, form["_date"], explain=False).decision
    r = client.post("/decide", data=form)
    assert r.status_code == 200 and r.url.path.startswith("/decisions/"), note
    page = dom(r.text)
    codes = {"禁止": "prohibit", "审批": "approve", "备案": "file", "无适用规则": "none"}
    codes |= {"未能确定": "undetermined"}
    assert squash(page.one(id="outcome").text) == outcome
    assert want.outcome == codes[outcome]
    assert squash(page.one(id="headline").text).startswith(outcome + "：")
    rules = page.all("ul", id="rules")
    fired = [li.attrs["data-rule"] for li in rules[0].all("li", cls="fired")] if rules else []
    assert fired == [x.id for x in want.rules]
    assert path_of(page) == [(s.authority, s.action) for s in want.steps]
    undetermined = page.all(id="h-undetermined")
    assert bool(undetermined) == bool(want.undetermined)


def test_without_explain_there_is_no_why_not(client: TestClient, runtime: Runtime) -> None:
    form = {k: v for k, v in FORM.items() if k != "_explain"}
    r = client.post("/decide", data=form, follow_redirects=False)
    assert r.status_code == 303
    logged = runtime.decision(r.headers["location"].rsplit("/", 1)[1])
    assert logged is not None and logged.input["explain"] is False
    page = dom(client.get(r.headers["location"]).text)
    assert page.all(id="why-not") == [] and page.all("details", cls="related") == []
    again = dom(client.get(page.one("a", cls="button").attrs["href"]).text)
    assert "checked" not in again.one("input", name="_explain").attrs


def test_a_decision_that_cannot_be_logged_is_not_shown(
    client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unlogged(_: Any) -> None:
        raise DecisionLogError("the database is gone")

    monkeypatch.setattr(runtime.decision_log, "write", unlogged)
    r = client.post("/decide", data=FORM, follow_redirects=False)
    assert r.status_code == 503 and "决定未能记录" in r.text


def test_a_missing_fact_is_undetermined_not_guessed(client: TestClient) -> None:
    # investment_wan left blank: the filing rule may apply, and the page says which fact.
    form = {k: v for k, v in FORM.items() if k != "investment_wan"}
    r = client.post("/decide", data=form)
    assert r.status_code == 200 and r.url.path.startswith("/decisions/")
    section = dom(r.text).one(id="h-undetermined")
    assert section.text.startswith("未能确定")
    assert "investment_wan" in dom(r.text).one("section", cls="warn").text


BAD = [
    # (note, changes to the example form, field whose error is shown, words of the error)
    ("negative investment", {"investment_wan": "-5"}, "investment_wan", "须为不小于 0"),
    ("not a number", {"investment_wan": "一千"}, "investment_wan", "须为数字（单位：万元）"),
    ("no region", {"region": ""}, "region", "请填写地区"),
    ("bad region", {"region": "甘肃省//崆峒区"}, "region", "行政区路径"),
    ("unknown enum value", {"park_level": "galactic"}, "park_level", "没有这个选项"),
    ("not 是 or 否", {"conforms_to_plan": "maybe"}, "conforms_to_plan", "须为“是”或“否”"),
    ("bad project date", {"date": "2024-02-30"}, "date", "须为真实的日期"),
    ("bad evaluation date", {"_date": "someday"}, "_date", "须为真实的日期"),
]


@pytest.mark.parametrize(("note", "change", "where", "words"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_shown_next_to_its_field_and_nothing_is_lost(
    client: TestClient, note: str, change: dict[str, str], where: str, words: str
) -> None:
    sent = {**FORM, "park": "<b>平凉</b>工业园区", **change}
    r = client.post("/decide", data=sent, follow_redirects=False)
    assert r.status_code == 422, note
    page = dom(r.text)
    assert page.one(id=f"e-{where}").text.count(words) == 1
    assert len(page.all("p", cls="error")) == 1, "only the bad field has an error"
    form = page.one("form", action="/decide")
    for name, value in sent.items():
        control = form.one(name=name)
        if control.tag == "select":
            assert control.one("option", selected="").attrs["value"] == value, name
        elif control.attrs["type"] == "checkbox":
            assert "checked" in control.attrs
        else:
            assert control.attrs["value"] == value, name
    assert "&lt;b&gt;平凉&lt;/b&gt;工业园区" in r.text


def test_bad_input_is_not_logged(client: TestClient, runtime: Runtime) -> None:
    with runtime.decision_log.engine.connect() as conn:
        before = conn.exec_driver_sql("select count(*) from decisions").scalar()
    assert client.post("/decide", data={**FORM, "investment_wan": "-1"}).status_code == 422
    with runtime.decision_log.engine.connect() as conn:
        assert conn.exec_driver_sql("select count(*) from decisions").scalar() == before


def test_a_park_name_is_escaped_everywhere(client: TestClient) -> None:
    park = '<script>alert("x")</script>'
    r = client.post("/decide", data={**FORM, "park": park})
    assert r.status_code == 200 and r.url.path.startswith("/decisions/")
    assert "<script>" not in r.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in r.text
    assert park in dom(r.text).one(id="input").text  # shown, as text
    edit = dom(r.text).one("a", cls="button").attrs["href"]
    form = dom(client.get(edit).text).one("form", action="/decide")
    assert form.one("input", name="park").attrs["value"] == park


def test_a_form_that_is_not_urlencoded_is_refused(client: TestClient) -> None:
    r = client.post("/decide", files={"region": ("x", b"y")})
    assert r.status_code == 415 and 'lang="zh"' in r.text


@pytest.mark.parametrize(
    "path",
    ["/decisions/0000000000000000deadbeef", "/decisions/lookup?id=nope", "/decisions/lookup"],
)
def test_an_unknown_decision_is_a_friendly_404(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    page = dom(r.text)
    assert "决定" in page.one("h1").text
    assert page.one("form", action="/decisions/lookup")


def test_the_lookup_form_redirects_to_the_decision(
    client: TestClient, example_page: tuple[str, Node]
) -> None:
    decision_id, _ = example_page
    r = client.get("/decisions/lookup", params={"id": f"  {decision_id} "}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/decisions/{decision_id}"


# ----------------------------------------------------------------------------- policies


def test_the_policy_list_counts_agree_with_coverage(client: TestClient, runtime: Runtime) -> None:
    page = dom(client.get("/policies").text)
    coverage = {c.policy: c for c in runtime.service.coverage if c.policy}
    rows = page.one("table", cls="policies").one("tbody").all("tr")
    assert [r.attrs["id"] for r in rows] == [f"p-{p}" for p in coverage]
    for row in rows:
        cov = coverage[row.attrs["id"].removeprefix("p-")]
        for status in ("encoded", "by_parts", "skipped", "open"):
            assert row.one("td", cls=f"n-{status}").text == str(cov.count(status))
        header = runtime.service.policies.policy(cov.policy).header  # type: ignore[union-attr]
        assert header.title in row.text and (header.doc_number or "—") in row.text


def test_each_policy_page_shows_every_clause_with_its_coverage(
    client: TestClient, runtime: Runtime
) -> None:
    for cov in runtime.service.coverage:
        if not cov.policy:
            continue
        r = client.get(f"/policies/{cov.policy}")
        assert r.status_code == 200
        items = dom(r.text).one("ol", cls="clauses").all("li", cls="clause")
        assert [li.attrs["id"] for li in items] == [f"c-{c.clause}" for c in cov.clauses]
        for li, c in zip(items, cov.clauses, strict=True):
            assert li.attrs["data-status"] == c.status, (cov.policy, c.clause)
            tags = [t.text for t in li.all("span", cls="by")]
            assert tags == list(c.by), (cov.policy, c.clause)
            if c.status == "skipped":
                assert c.reason in li.one("p", cls="reason").text
            assert ("assigns" in li.classes) == (c.status == "open" and c.assigns)


def test_a_policy_page_lists_its_rules_with_their_paths(
    client: TestClient, runtime: Runtime
) -> None:
    policy = runtime.service.policies.policy("pingliang-2023")
    assert policy is not None
    page = dom(client.get("/policies/pingliang-2023").text)
    for rule in policy.rules:
        article = page.one("article", id=f"r-{rule.ast.name}")
        steps = [
            (li.one(cls="authority").text, li.one(cls="action").text) for li in article.all("li")
        ]
        assert steps == [(s.authority, s.action) for s in rule.ast.steps]
    clause = page.one("li", id="c-二.4")
    assert QUOTE in [m.text for m in clause.all("mark")]


def test_an_unknown_policy_is_a_404(client: TestClient) -> None:
    r = client.get("/policies/nowhere-1999")
    assert r.status_code == 404 and "nowhere-1999" in r.text


# ------------------------------------------------------------------------------- search


def test_search_shows_hits_with_highlights_and_links(client: TestClient, runtime: Runtime) -> None:
    q = "租赁厂房的项目由谁审核"
    r = client.get("/search", params={"q": q})
    assert r.status_code == 200
    hits = dom(r.text).one("ol", cls="hits").all("li", cls="hit")
    want = runtime.service.searcher.knowledge_base().search(q, 10)
    assert len(hits) == len(want) > 0
    first, top = hits[0], want[0]
    policy = next(
        p.id for p in runtime.service.policies.policies if p.header.source == top.document
    )
    link = first.one("a", cls="clause-id").attrs["href"]
    assert link.startswith(f"/policies/{policy}#c-")
    assert first.one("p", cls="clause-text").text == top.text
    # Words of one character (的, 谁) are not highlighted: they would mark everything.
    marks = [top.text[s:e] for s, e in top.highlights if e - s >= 2]
    assert [m.text for m in first.all("mark")] == marks and marks
    levels = ("相关度 高", "相关度 中", "相关度 低", "相关度 不相关")
    assert first.one(cls="relevance").text in levels


def test_search_by_region_keeps_that_region(client: TestClient) -> None:
    page = dom(client.get("/search", params={"q": "备案", "region": "甘肃省"}).text)
    documents = [h.one("code").text for h in page.all("li", cls="hit")]
    assert documents and set(documents) == {"pingliang-2023"}


def test_an_empty_search_shows_the_box_only(client: TestClient) -> None:
    page = dom(client.get("/search?q=+").text)
    assert page.one("input", name="q") and page.all("ol", cls="hits") == []


def test_a_failing_index_is_a_message_not_a_500(
    client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> Any:
        raise OSError("the index cache is not writable")

    monkeypatch.setattr(runtime.service.searcher, "knowledge_base", broken)
    r = client.get("/search", params={"q": "备案"})
    assert r.status_code == 503
    alert = dom(r.text).one(role="alert").text
    # A fixed message and an incident id; the details are in the server log only.
    assert "事件编号" in alert and "the index cache is not writable" not in alert


# ---------------------------------------------------------------------------- the shell


@pytest.mark.parametrize("path", ["/", "/policies", "/policies/jiading-2017", "/search?q=园区"])
def test_every_page_is_chinese_with_the_nav_bar_and_stylesheet(
    client: TestClient, path: str
) -> None:
    r = client.get(path)
    assert r.status_code == 200 and r.text.startswith("<!doctype html>")
    page = dom(r.text)
    assert page.one("html").attrs["lang"] == "zh"
    nav = [a.attrs["href"] for a in page.one("nav").all("a")]
    assert nav == ["/", "/policies", "/search"]
    assert page.one("link", rel="stylesheet").attrs["href"] == "/static/style.css"
    assert "<script" not in r.text  # works without JavaScript


@pytest.mark.parametrize(
    ("path", "status"),
    [("/static/style.css", 200), ("/static/web.py", 404), ("/static/..%2Fweb.py", 404)],
)
def test_static_serves_only_its_own_files(client: TestClient, path: str, status: int) -> None:
    r = client.get(path)
    assert r.status_code == status
    if status == 200:
        assert r.headers["content-type"].startswith("text/css")
        assert r.text == (ROOT / "server/static/style.css").read_text("utf-8")


MARKS = [
    ("plain", "abc", [], "abc"),
    ("one span", "abcdef", [(1, 3)], "a<mark>bc</mark>def"),
    ("overlapping spans merge", "abcdef", [(3, 5), (1, 4)], "a<mark>bcde</mark>f"),
    ("out of range is clamped", "abc", [(-2, 1), (2, 99)], "<mark>a</mark>b<mark>c</mark>"),
    ("empty span ignored", "abc", [(2, 2)], "abc"),
    ("markup is escaped", "<b>x</b>&", [(3, 4)], "&lt;b&gt;<mark>x</mark>&lt;/b&gt;&amp;"),
]


@pytest.mark.parametrize(("note", "text", "spans", "want"), MARKS, ids=[m[0] for m in MARKS])
def test_marked(note: str, text: str, spans: list[tuple[int, int]], want: str) -> None:
    assert str(marked(text, spans)) == want


def test_templates_and_static_files_are_package_data() -> None:
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    patterns = data["tool"]["setuptools"]["package-data"]["server"]
    shipped = {p.relative_to(ROOT / "server") for p in (ROOT / "server").rglob("*") if p.is_file()}
    needed = {p for p in shipped if p.parts[0] in ("templates", "static")}
    assert needed and all(any(p.match(pat) for pat in patterns) for p in needed)
    assert Path("templates/base.html") in needed
