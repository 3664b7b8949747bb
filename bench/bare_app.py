"""The reference for the web-overhead ratio: a bare FastAPI app with the same health answer."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/api/v1/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}
