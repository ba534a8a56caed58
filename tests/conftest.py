"""Shared fixtures: the real seed policy set, and a small in-memory clause source."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb.normalize import normalize
from server.service import Service

ROOT = Path(__file__).resolve().parent.parent


class MemorySource:
    """A ClauseSource over a dict {document: {clause: text}}, with the product's normalisation."""

    def __init__(self, documents: dict[str, dict[str, str]]) -> None:
        self.documents = documents

    def has_document(self, document: str) -> bool:
        return document in self.documents

    def clause_ids(self, document: str) -> list[str]:
        return list(self.documents.get(document, {}))

    def clause_text(self, document: str, clause: str) -> str | None:
        return self.documents.get(document, {}).get(clause)

    def normalize(self, text: str) -> str:
        return normalize(text)


@pytest.fixture(scope="session")
def service() -> Service:
    return Service.load(ROOT)
