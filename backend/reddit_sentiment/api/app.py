"""App factory. The lifespan owns store, executor and scheduler and closes them in reverse."""

from __future__ import annotations

import asyncio
import gc
import logging
import math
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline
from starlette.routing import Match

from .. import __version__
from ..alerts import install_rules_file
from ..collection import CollectionService, cycle_factory
from ..logging_setup import configure_logging
from ..settings import Role, Settings, get_settings
from ..store import create_store
from ..store.base import Store, StoreThrottled, StoreUnavailable
from .cache import StoreCache
from .routes import (
    alerts,
    collections,
    dashboard,
    health,
    keywords,
    metrics,
    page,
    posts,
    trending,
)

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"


# The collector thread (PRAW's JSON parsing, store writes) competes with the event loop for
# the GIL; a 0.5 ms switch interval (default 5 ms) hands the loop its turn ten times sooner,
# which lowers health p99 during a cycle (measured: specs/measurements.md#gil-switch-interval).
SWITCH_INTERVAL_SECONDS = 0.0005


def create_app(settings: Settings | None = None, store: Store | None = None) -> FastAPI:
    if settings is None:  # built by uvicorn's factory in a worker process
        settings = get_settings()
        configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
        app_store = store or create_store(settings)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, app_store.open)
        if settings.alert_rules_file is not None:
            installed = await install_rules_file(settings, app_store)
            log.info("alert rules: %d from ALERT_RULES_FILE", installed)
        service = CollectionService(
            settings, app_store, cycle_factory(settings, app_store, own_store=store is None)
        )
        # Start-up garbage (imports, schema, the app) moved out of the collector's reach:
        # later collections scan only young objects, which keeps GC pauses off the p99.
        # Before the scheduler starts: with no start-up delay a cycle would begin (spawning
        # its process) while this one long pass holds the loop.
        gc.collect()
        gc.freeze()
        service.start()
        app.state.settings, app.state.store, app.state.service = settings, app_store, service
        if service.collection_enabled:
            log.info(
                "started: storage=%s subreddits=%s interval=%ss first collection in %ss",
                app_store.name,
                ",".join(settings.subreddits),
                settings.collection_interval_seconds,
                settings.collection_start_delay_seconds,
            )
        else:  # the reason was logged with the factory's decision
            log.info("started: storage=%s, no collection in this process", app_store.name)
        try:
            yield
        finally:
            await service.shutdown()
            await app_store.aclose()
            log.info("stopped")

    # The docs pages' assets (Swagger UI, ReDoc) come from the fastapi-offline package and are
    # served by the app, like the dashboard's: nothing is loaded from outside the service.
    app = FastAPIOffline(
        title="Reddit sentiment collector",
        version=__version__,
        description="Collects Reddit posts and comments on a schedule, scores them with VADER "
        "and serves sentiment dashboards that stay fast while collection runs.",
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,  # below: ReDoc with its one outside image blocked
        static_url=DOCS_ASSETS,
        # No schema validator badge: Swagger UI would fetch it from validator.swagger.io.
        swagger_ui_parameters={"validatorUrl": None},
    )
    _add_redoc(app)
    app.state.settings = settings
    app.state.store_cache = StoreCache(settings.store_cache_seconds)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["X-API-Key"],
        )
    routers = [health.router]
    if settings.role is not Role.COLLECTOR:  # a collector-only process serves health alone
        routers += [
            dashboard.router,
            posts.router,
            collections.router,
            trending.router,
            keywords.router,
            alerts.router,
        ]
    for router in routers:
        app.include_router(router, prefix=API_PREFIX)
    if settings.role is not Role.COLLECTOR:
        app.include_router(page.router)  # GET / and its static assets, outside /api/v1
    app.include_router(metrics.router)  # /metrics where scrapers look, in every role
    metrics.instrument(app)
    _install_error_handlers(app)
    return app


DOCS_ASSETS = f"{API_PREFIX}/docs-assets"


def _add_redoc(app: FastAPI) -> None:
    """ReDoc from the assets fastapi-offline ships. Its script also shows a logo from
    Redocly's CDN; the page's Content-Security-Policy keeps that image from being fetched."""

    @app.get(f"{API_PREFIX}/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=str(app.openapi_url),
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png",
            with_google_fonts=False,
        )
        page.headers["Content-Security-Policy"] = "img-src 'self' data:"
        return page


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        details: list[dict[str, Any]] = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in error.errors()
        ]
        message = "; ".join(
            f"{'.'.join(str(p) for p in d['loc'][1:]) or d['loc'][0]}: {d['msg']}" for d in details
        )
        return JSONResponse(status_code=422, content={"detail": details, "message": message})

    @app.exception_handler(405)
    async def method_not_allowed(request: Request, error: Exception) -> JSONResponse:
        # Starlette's Allow header names the methods of the first route that matched the path
        # only; GET and POST /collections are two routes. Name every method the path takes.
        methods: set[str] = set()
        for route in app.router.routes:
            match, _ = route.matches({"type": "http", "path": request.url.path, "method": ""})
            if match is not Match.NONE and isinstance(route, APIRoute):
                methods |= route.methods or set()
        allow = ", ".join(sorted(methods))
        return JSONResponse(
            status_code=405, content={"detail": "Method Not Allowed"}, headers={"Allow": allow}
        )

    @app.exception_handler(StoreUnavailable)
    async def unavailable(_: Request, error: StoreUnavailable) -> JSONResponse:
        content = {"detail": f"storage unavailable: {error}"}
        if isinstance(error, StoreThrottled):  # busy, not down: the client may ask again soon
            log.warning("store throttled: %s", error)
            wait = str(max(1, math.ceil(error.retry_after)))
            return JSONResponse(status_code=503, content=content, headers={"Retry-After": wait})
        log.error("store unavailable: %s", error)
        return JSONResponse(status_code=503, content=content)
