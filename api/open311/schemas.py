"""The GeoReport v2 resources, field for field as the specification lists them.

They document the JSON responses in OpenAPI and are what both renderers (JSON and XML) read,
so the two formats cannot drift apart. Absent values are ``null`` in JSON, empty in XML.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, Field

W3DateTime = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class Service(BaseModel):
    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: Literal["realtime", "batch", "blackbox"]
    keywords: str
    group: str


class AttributeValue(BaseModel):
    key: str
    name: str


class Attribute(BaseModel):
    variable: bool
    code: str
    datatype: Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
    required: bool
    datatype_description: str | None
    order: int
    description: str
    values: list[AttributeValue]


class ServiceDefinition(BaseModel):
    service_code: str
    attributes: list[Attribute]


class CreatedRequest(BaseModel):
    """POST answer; ``token`` equals ``service_request_id`` (our services are realtime)."""

    service_request_id: str
    token: str
    service_notice: str | None
    account_id: str | None


class RequestToken(BaseModel):
    service_request_id: str
    token: str


class ServiceRequest(BaseModel):
    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str | None
    service_name: str | None
    service_code: str | None
    description: str
    agency_responsible: str | None
    service_notice: str | None
    requested_datetime: W3DateTime
    updated_datetime: W3DateTime
    expected_datetime: W3DateTime | None
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float | None
    long: float | None
    media_url: str | None


class Error(BaseModel):
    code: int
    description: str
