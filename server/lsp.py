"""`zhengce lsp`: the language server for .zc policy files, over stdio or TCP (pygls).

What it answers comes from elsewhere: the check from server.lsp_project (`zhengce check` with
the edited text), hover, definition and completion from server.lsp_features, the 以上 quick
fix from dsl.quickfix. This module only speaks LSP: it keeps the open documents, checks an
edited one once typing pauses (DEBOUNCE_S; in a worker thread, one check at a time, so hover
and completion answer meanwhile) and converts positions between ours (0-based lines,
characters) and the client's (UTF-16 code units unless it negotiates otherwise).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path
from pygls.workspace import PositionCodec, ServerTextPosition, TextDocument

from dsl.errors import Diagnostic, DslError
from dsl.parser import parse
from dsl.quickfix import bound_fix
from dsl.vocabulary import Code, Severity
from server.lsp_features import Editing, Suggestion, complete, definition, hover
from server.lsp_project import Located, Project

log = logging.getLogger("zhengce.lsp")

DEBOUNCE_S = 0.3
_KINDS = {
    "field": lsp.CompletionItemKind.Field,
    "value": lsp.CompletionItemKind.EnumMember,
    "clause": lsp.CompletionItemKind.Reference,
    "unit": lsp.CompletionItemKind.Value,
}


class ZhengceServer(LanguageServer):
    def __init__(self, fallback_root: Path) -> None:
        super().__init__("zhengce", version("zhengce"))
        self.fallback_root = fallback_root
        self.projects: dict[Path, Project] = {}
        self.pending: dict[str, asyncio.Task[None]] = {}
        self.checker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zhengce-check")

    def project(self, path: Path) -> Project | None:
        """The project of a file: the folder above it holding policies/, else the editor's
        workspace folder or the settings' root (ZHENGCE_ROOT) when they hold one."""
        workspace = self.workspace.root_path
        root = Project.root_of(path, Path(workspace) if workspace else self.fallback_root)
        if root is None:
            return None
        if root not in self.projects:
            self.projects[root] = Project(root)
        return self.projects[root]

    def editing(self, uri: str) -> tuple[Editing, TextDocument] | None:
        doc = self.workspace.get_text_document(uri)
        path = _path(uri)
        project = self.project(path)
        if project is None:
            return None
        held = {
            _path(d.uri): d.source for d in self.workspace.text_documents.values() if d.uri != uri
        }
        return Editing(project, path, doc.source, held), doc

    def cursor(
        self, uri: str, position: lsp.Position
    ) -> tuple[Editing, TextDocument, ServerTextPosition] | None:
        """`editing(uri)` and the client's `position` in it, in code points."""
        found = self.editing(uri)
        if found is None:
            return None
        doc, held = found
        return doc, held, held.position_from_client_units(position)

    def schedule(self, uri: str, delay: float) -> None:
        """Check the document `delay` seconds from now, instead of any check still waiting."""
        waiting = self.pending.pop(uri, None)
        if waiting is not None:
            waiting.cancel()
        self.pending[uri] = asyncio.get_running_loop().create_task(self.check(uri, delay))

    async def check(self, uri: str, delay: float) -> None:
        await asyncio.sleep(delay)
        doc = self.workspace.get_text_document(uri)
        version, text, path = doc.version, doc.source, _path(uri)
        project = self.project(path)
        loop = asyncio.get_running_loop()
        try:
            found = await loop.run_in_executor(self.checker, _diagnose, project, path, text)
        except Exception:
            # A bug in the checker must not end the server: the editor keeps working, and the
            # log says what failed.
            log.exception("checking %s failed", path)
            return
        still_open = any(d is doc for d in self.workspace.text_documents.values())
        if not still_open or doc.version != version:
            return  # edited or closed meanwhile: a newer check is on its way, or none is wanted
        shown = [_diagnostic(d, doc) for d in found]
        self.text_document_publish_diagnostics(
            lsp.PublishDiagnosticsParams(uri=uri, diagnostics=shown, version=version)
        )


def _diagnose(project: Project | None, path: Path, text: str) -> list[Diagnostic]:
    if project is not None:
        return project.check(path, text)
    try:  # outside any project only the syntax can be checked
        parse(text, str(path))
    except DslError as e:
        return e.diagnostics
    return []


def _path(uri: str) -> Path:
    return Path(to_fs_path(uri) or uri).resolve()


def _range(lines: Sequence[str], doc: TextDocument, line: int, start: int, end: int) -> lsp.Range:
    ours = lsp.Range(lsp.Position(line, start), lsp.Position(line, end))
    return doc.position_codec.range_to_client_units(lines, ours)


def _diagnostic(d: Diagnostic, doc: TextDocument) -> lsp.Diagnostic:
    lines = doc.source.split("\n")
    line, start = max(d.span.line - 1, 0), max(d.span.column - 1, 0)
    end_line, end = d.span.end_line - 1, d.span.end_column - 1
    if (end_line, end) <= (line, start):  # a span with no end: mark the one character
        end_line, end = line, start + 1
    ours = lsp.Range(lsp.Position(line, start), lsp.Position(end_line, end))
    return lsp.Diagnostic(
        range=doc.position_codec.range_to_client_units(lines, ours),
        message=d.message + (f"\n{d.hint}" if d.hint else ""),
        severity=(
            lsp.DiagnosticSeverity.Error
            if d.severity == Severity.ERROR
            else lsp.DiagnosticSeverity.Warning
        ),
        code=str(d.code),
        source="zhengce",
    )


def _location(found: Located, doc: Editing, codec: PositionCodec) -> lsp.Location:
    lines = doc.text_of(found.path).split("\n")
    ours = lsp.Range(lsp.Position(found.line, found.start), lsp.Position(found.line, found.end))
    return lsp.Location(
        uri=from_fs_path(str(found.path)) or found.path.as_uri(),
        range=codec.range_to_client_units(lines, ours),
    )


def _completion(s: Suggestion, doc: TextDocument) -> lsp.CompletionItem:
    lines = doc.source.split("\n")
    return lsp.CompletionItem(
        label=s.label,
        kind=_KINDS[s.kind],
        detail=s.detail,
        documentation=s.documentation or None,
        text_edit=lsp.TextEdit(_range(lines, doc, s.line, s.start, s.end), s.insert),
    )


def make_server(fallback_root: Path) -> ZhengceServer:
    """A server whose features are registered; `fallback_root` is the project folder used
    for a file that lies in none (the settings' root)."""
    server = ZhengceServer(fallback_root)

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    async def did_open(ls: ZhengceServer, params: lsp.DidOpenTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri, 0)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    async def did_change(ls: ZhengceServer, params: lsp.DidChangeTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri, DEBOUNCE_S)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    async def did_save(ls: ZhengceServer, params: lsp.DidSaveTextDocumentParams) -> None:
        # Another file's check reads this one from disk: check every open file again.
        for doc in list(ls.workspace.text_documents.values()):
            ls.schedule(doc.uri, 0)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    async def did_close(ls: ZhengceServer, params: lsp.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        waiting = ls.pending.pop(uri, None)
        if waiting is not None:
            waiting.cancel()
        ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri, []))

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    def on_hover(ls: ZhengceServer, params: lsp.HoverParams) -> lsp.Hover | None:
        found = ls.cursor(params.text_document.uri, params.position)
        if found is None:
            return None
        doc, held, at = found
        shown = hover(doc, at.line, at.character)
        if shown is None:
            return None
        lines = held.source.split("\n")
        return lsp.Hover(
            contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=shown.markdown),
            range=_range(lines, held, shown.line, shown.start, shown.end),
        )

    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    def on_definition(ls: ZhengceServer, params: lsp.DefinitionParams) -> lsp.Location | None:
        found = ls.cursor(params.text_document.uri, params.position)
        if found is None:
            return None
        doc, _, at = found
        target = definition(doc, at.line, at.character)
        if target is None:
            return None
        return _location(target, doc, ls.workspace.position_codec)

    @server.feature(
        lsp.TEXT_DOCUMENT_COMPLETION,
        lsp.CompletionOptions(trigger_characters=[".", " ", '"', ","]),
    )
    def on_completion(ls: ZhengceServer, params: lsp.CompletionParams) -> lsp.CompletionList:
        found = ls.cursor(params.text_document.uri, params.position)
        if found is None:
            return lsp.CompletionList(is_incomplete=False, items=[])
        doc, held, at = found
        items = [_completion(s, held) for s in complete(doc, at.line, at.character)]
        return lsp.CompletionList(is_incomplete=False, items=items)

    @server.feature(
        lsp.TEXT_DOCUMENT_CODE_ACTION,
        lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix]),
    )
    def on_code_action(ls: ZhengceServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
        found = ls.editing(params.text_document.uri)
        if found is None:
            return []
        doc, held = found
        lines = held.source.split("\n")
        actions = []
        for d in params.context.diagnostics:
            if d.code != Code.BOUND_WORDING_MISMATCH:
                continue
            at = held.position_from_client_units(d.range.start)
            fix = bound_fix(doc.text, at.line, at.character, doc.project.corpus.normalize)
            if fix is None:
                continue
            edit = lsp.TextEdit(_range(lines, held, fix.line, fix.start, fix.end), fix.text)
            actions.append(
                lsp.CodeAction(
                    title=fix.title,
                    kind=lsp.CodeActionKind.QuickFix,
                    diagnostics=[d],
                    is_preferred=True,
                    edit=lsp.WorkspaceEdit(changes={params.text_document.uri: [edit]}),
                )
            )
        return actions

    return server


def serve(root: Path, address: tuple[str, int] | None = None) -> None:
    """Serve one editor: over stdio, or over TCP at `address` (host, port)."""
    server = make_server(root)
    if address is None:
        server.start_io()
    else:
        server.start_tcp(*address)


if __name__ == "__main__":
    from server.config import Settings

    serve(Settings.from_env().root)
