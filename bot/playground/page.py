"""The playground page (placeholder until the page lands)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Route


def playground_routes() -> list[BaseRoute]:
    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse("<!doctype html><title>clue bot</title><p>playground</p>")

    return [Route("/", index, methods=["GET"])]
