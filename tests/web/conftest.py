from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.web.pages import new_browser


@pytest.fixture
def browser(app: FastAPI) -> Iterator[TestClient]:
    """A client with its own cookies, that does not follow redirects (tests check them)."""
    with new_browser(app) as client:
        yield client
