"""The console's Serve application: the static single-page app at ``/console``.

The console has no back end of its own: its pages call ``/admin``, ``/billing`` and ``/v1`` from
the browser with the signed-in user's session. This app only serves the files. Any path that is
not a file gets ``index.html``, so a page's address (``/console/calls/<id>``) can be bookmarked,
reloaded and used as a payment provider's return address. Nothing is built: the pages are plain
ES modules, so ``make demo`` serves them as they are in the tree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from ray import serve

from infra.http_app import service_app

STATIC = Path(__file__).parent / "static"
# The pages load only their own files and talk only to this origin (the APIs, the call WebSocket);
# recordings and voice previews play from blob: URLs the pages make from authenticated fetches.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


def create_app() -> FastAPI:
    # Files only: not counted against the client's rate limits, which its API calls need.
    app = service_app("secretary console", "The owner's web console (static pages).", (), rate_limited=False)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.middleware("http")
    async def policy(request: Request, call_next) -> Response:
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        if request.url.path.endswith((".js", ".css")):
            response.headers["Cache-Control"] = "no-cache"  # revalidated: a redeploy is seen at once
        return response

    @app.get("/{path:path}", include_in_schema=False)
    async def page(path: str) -> Response:
        """Every page address serves the app; the app routes in the browser."""
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    return app


app = create_app()


@serve.deployment(name="ConsoleApp", max_ongoing_requests=64)
@serve.ingress(app)
class ConsoleApp:
    """Static files only: no state, no model, no database."""


def build_console_app(args: dict[str, Any] | None = None) -> serve.Application:
    return ConsoleApp.bind()
