"""Open311 GeoReport v2, beside the native API and over the same domain services."""

from api.open311.routes import router

__all__ = ["router"]
