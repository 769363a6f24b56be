"""Who is asking, and whether they have asked too often: the client's address (believing
``X-Forwarded-For`` only from the configured proxies) and the submission limits per address
and per contact (issue 13)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from fastapi import Request

from api.rate_limits import check_and_count, parsed
from reflections.errors import DomainError
from reflections.messaging.contacts import normalise_email, normalise_phone
from reflections.platform.settings import get_settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: Request) -> str:
    """The caller's address. ``X-Forwarded-For`` is read right to left, skipping our own
    proxies, and only when the request came from one of them: from anyone else it is a
    claim anybody can make, and ignored."""
    peer = request.client.host if request.client else "unknown"
    networks = _networks(tuple(get_settings().trusted_proxies))
    if not networks or not _trusted(peer, networks):
        return peer
    hops = [hop.strip() for hop in request.headers.get("x-forwarded-for", "").split(",")]
    for hop in reversed([hop for hop in hops if hop]):
        if not _trusted(hop, networks):
            return hop
    return peer


def check_submission(
    request: Request | None, phone: str | None, email: str | None, *, per_address: bool = True
) -> None:
    """Count an anonymous submission against its address and the contacts it names, or refuse
    it with 429 before anything is written. Invalid contacts are left to intake's 422."""
    settings = get_settings()
    if not settings.abuse_limits:
        return
    if per_address and request is not None:
        check_and_count(
            parsed(settings.submissions_per_ip),
            "submit-ip",
            client_address(request),
            "too_many_submissions",
            "too many submissions from this address; try again later",
        )
    for channel, normalise, raw in (
        ("sms", normalise_phone, phone),
        ("email", normalise_email, email),
    ):
        if not raw:
            continue
        try:
            address = normalise(raw)
        except DomainError:
            continue
        check_and_count(
            parsed(settings.submissions_per_contact),
            f"submit-{channel}",
            address,
            "too_many_for_contact",
            "too many submissions name this contact; try again later",
        )
