"""Incidents: a failure the client can do nothing about is answered with a fixed message and
an incident id, and its details (the exception, SQL, file paths, other clients' input) go to
the server log under that id, never into an answer."""

from __future__ import annotations

import logging
import uuid

__all__ = ["report"]


def report(log: logging.Logger, what: str, error: BaseException | None = None) -> str:
    """Log `what` with the error's traceback under a new incident id, and return the id."""
    incident = uuid.uuid4().hex[:12]
    exc_info = (type(error), error, error.__traceback__) if error is not None else None
    log.error("%s [incident %s]", what, incident, exc_info=exc_info)
    return incident
