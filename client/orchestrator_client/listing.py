"""Reading a collection: one document, one page, or every page in turn.

Pages follow `next_page_token`, sent back with the same filters (docs/api.md, Pagination);
the order is stable, so paging never skips or repeats a document that existed when paging
began, even while documents are being added.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .transport import Transport

D = TypeVar("D")
FilterValue = str | int | float | None


@dataclass(frozen=True)
class Page(Generic[D]):
    documents: list[D]
    next_page_token: str | None  # None on the last page


def query(filters: Mapping[str, FilterValue]) -> dict[str, str]:
    """Filters as query parameters: None is the literal `null` (docs/api.md, Filters)."""
    return {name: "null" if value is None else str(value) for name, value in filters.items()}


class Listing(Generic[D]):
    """`GET /<collection>` and `GET /<collection>/<uuid>` of one collection."""

    def __init__(self, transport: Transport, collection: str, path: str | None = None):
        self.transport = transport
        self.collection = collection
        self.path = path or f"/{collection}"  # the audit trail's is /events

    def get(self, uuid: str) -> D:
        """The document; NotFound if there is none."""
        document: D = self.transport.request("GET", f"/{self.collection}/{uuid}").json()
        return document

    def page(self, limit: int | None = None, page_token: str | None = None,
             **filters: FilterValue) -> Page[D]:
        """One page of the documents matching every filter (equality, AND)."""
        return self.fetch_page(filters, limit, page_token)

    def fetch_page(self, filters: Mapping[str, FilterValue], limit: int | None = None,
                   page_token: str | None = None) -> Page[D]:
        """page() with the filters as a mapping."""
        params = query(filters)
        if limit is not None:
            params["limit"] = str(limit)
        if page_token is not None:
            params["page_token"] = page_token
        body = self.transport.request("GET", self.path, params=params).json()
        return Page(body[f"{self.collection}s"], body.get("next_page_token"))

    def history(self, uuid: str, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """`GET /<collection>/<uuid>/history`: the sealed events that wrote the document,
        oldest first (docs/audit.md), page after page."""
        token: str | None = None
        while True:
            params = {"limit": str(limit)} if limit is not None else {}
            if token:
                params["page_token"] = token
            body = self.transport.request("GET", f"/{self.collection}/{uuid}/history",
                                          params=params).json()
            yield from body["events"]
            token = body.get("next_page_token")
            if not token:
                return

    def iterate(self, limit: int | None = None, **filters: FilterValue) -> Iterator[D]:
        """Every matching document, page after page (`limit` per request)."""
        token: str | None = None
        while True:
            page = self.page(limit, token, **filters)
            yield from page.documents
            if not page.next_page_token:
                return
            token = page.next_page_token

    def all(self, limit: int | None = None, **filters: FilterValue) -> list[D]:
        """Every matching document, as a list."""
        return list(self.iterate(limit, **filters))
