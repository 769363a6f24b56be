"""The ASGI application uvicorn serves: the API, then the pages, composed here so that the API
never depends on the web console."""

from fastapi import FastAPI

from api.app import create_api
from web import mount


def create_app() -> FastAPI:
    app = create_api()
    mount.install(app)  # after the API, so that API paths keep problem+json
    return app


app = create_app()
