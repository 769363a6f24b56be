"""Driving the pages as a browser would, without one: cookies, CSRF fields, form posts.

Each test gets its own client (its own cookie jar), so logging in as one role never leaks
into another test.
"""

import re
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from tests.api_helpers import DEMO_PASSWORD

CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


def new_browser(app: FastAPI) -> TestClient:
    return TestClient(app, follow_redirects=False)


def csrf(browser: TestClient, page: str = "/login") -> str:
    """The CSRF token the site hands out with its forms (set in a cookie on first visit)."""
    match = CSRF_FIELD.search(browser.get(page).text)
    assert match, f"no CSRF field on {page}"
    return str(match.group(1))


def post_form(browser: TestClient, path: str, data: dict[str, Any], files: Any = None) -> Response:
    response: Response = browser.post(path, data={"csrf": csrf(browser), **data}, files=files)
    return response


def log_in(browser: TestClient, username: str) -> Response:
    response = post_form(browser, "/login", {"username": username, "password": DEMO_PASSWORD})
    assert response.status_code == 303, response.text
    return response


def text_of(response: Response) -> str:
    """The page's visible text, roughly: tags dropped, whitespace collapsed."""
    without_tags = re.sub(r"<[^>]+>", " ", response.text)
    return re.sub(r"\s+", " ", without_tags)
