"""Typed dependencies: route modules ask for what they need by annotation."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Request, status

from ..collection import CollectionService
from ..settings import Settings
from ..store.base import Store
from .cache import StoreCache


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def get_service(request: Request) -> CollectionService:
    service: CollectionService = request.app.state.service
    return service


def get_cache(request: Request) -> StoreCache:
    cache: StoreCache = request.app.state.store_cache
    return cache


SettingsDep = Annotated[Settings, Depends(get_settings)]
CacheDep = Annotated[StoreCache, Depends(get_cache)]
StoreDep = Annotated[Store, Depends(get_store)]
ServiceDep = Annotated[CollectionService, Depends(get_service)]


def require_admin(
    settings: SettingsDep,
    x_api_key: Annotated[str | None, Header(description="Must equal ADMIN_API_KEY")] = None,
) -> None:
    """Admin endpoints are closed when no key is configured, and compare in constant time."""
    expected = settings.admin_api_key.get_secret_value()
    if not expected:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "admin endpoints are disabled: ADMIN_API_KEY is not set"
        )
    if x_api_key is None or not secrets.compare_digest(x_api_key.encode(), expected.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or wrong X-API-Key header",
            headers={"WWW-Authenticate": "ApiKey"},
        )


AdminDep = Depends(require_admin)
# The answers AdminDep adds to an admin endpoint's documented responses.
ADMIN_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or wrong X-API-Key"},
    403: {"description": "Admin endpoints disabled (no ADMIN_API_KEY)"},
}
