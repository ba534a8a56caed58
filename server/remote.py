"""Asking a running zhengce service, for the commands that would otherwise load the policies
and the search model themselves (`zhengce route` and `search` with `--server` or
ZHENGCE_SERVER): a question then costs one HTTP request instead of seconds of loading.

The standard library's client, not httpx: this module is on the path of a command that must
start in well under a second, and httpx alone takes longer to import than the whole request.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

__all__ = ["RemoteError", "get", "post"]

TIMEOUT = 30.0  # seconds; a warm service answers in milliseconds, a warming one in seconds


class RemoteError(Exception):
    """The service could not be asked, or refused the question. `status` is the HTTP status
    (None when no answer came); the message is the service's own, or says what failed."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def post(base: str, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON answer of POST `base` + `path` with `body`. Raises RemoteError."""
    data = json.dumps(body, ensure_ascii=False).encode()
    return _ask(urllib.request.Request(base + path, data=data, method="POST"))


def get(base: str, path: str, query: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON answer of GET `base` + `path` with `query` (None values left out)."""
    params = urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
    return _ask(urllib.request.Request(f"{base}{path}?{params}", method="GET"))


def _ask(request: urllib.request.Request) -> dict[str, Any]:
    request.add_header("Content-Type", "application/json")
    request.add_header("Accept", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
            body: dict[str, Any] = json.load(answer)
            return body
    except urllib.error.HTTPError as e:
        raise RemoteError(_refusal(e), e.code) from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise RemoteError(f"no answer from {request.full_url} ({reason})") from None
    except ValueError as e:  # not JSON: something else listens there
        raise RemoteError(f"{request.full_url} did not answer JSON ({e})") from None


def _refusal(error: urllib.error.HTTPError) -> str:
    """The service's own message for a refusal (its one error shape), else the status."""
    try:
        body = json.loads(error.read())
        details = "; ".join(f"{e['location']}: {e['message']}" for e in body.get("errors", []))
        return f"{body['message']}" + (f" ({details})" if details else "")
    except (ValueError, KeyError, TypeError):
        return f"{error.code} {error.reason} from {error.url}"
