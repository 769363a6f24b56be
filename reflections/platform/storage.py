"""Where photos live: a folder (the embedded default) or an S3-compatible bucket.

Every object is named by the SHA-256 of its bytes (``ab/abcdef...``), so a name says what it
holds, writing is idempotent and any copy can be verified by hashing it again. Reads and writes
are streamed in chunks: a replica never holds a whole bucket object in memory to serve it.
``REFLECTIONS_STORAGE_URL`` chooses the store; unset, photos stay in ``attachments_dir``.
"""

import hashlib
import io
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import urlsplit

from reflections.platform.settings import Settings, get_settings

CHUNK_BYTES = 64 * 1024


class StorageError(Exception):
    """The store cannot be used as configured (bad URL, unreachable bucket)."""


class MissingObject(KeyError):
    """No object under this name."""


class Store(Protocol):
    """A content-addressed object store."""

    def describe(self) -> str: ...

    def put(self, sha256: str, source: IO[bytes]) -> None:
        """Store ``source`` under its name unless an object is already there (same name,
        same bytes)."""

    def chunks(self, sha256: str) -> Iterator[bytes]:
        """The object's bytes in chunks; :class:`MissingObject` at once if there is none."""

    def exists(self, sha256: str) -> bool: ...

    def names(self) -> Iterator[str]:
        """Every object's name (its SHA-256)."""


def key_of(sha256: str) -> str:
    """The object's path under the store's root: two hex digits fan it out."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise MissingObject(sha256)  # never a path outside the store
    return f"{sha256[:2]}/{sha256}"


def digest(chunks: Iterable[bytes]) -> str:
    hasher = hashlib.sha256()
    for chunk in chunks:
        hasher.update(chunk)
    return hasher.hexdigest()


def verify(store: Store, sha256: str) -> bool:
    """True when the object exists and its bytes hash to its name."""
    try:
        return digest(store.chunks(sha256)) == sha256
    except MissingObject:
        return False


@dataclass(frozen=True)
class FolderStore:
    root: Path

    def describe(self) -> str:
        return f"folder {self.root}"

    def path(self, sha256: str) -> Path:
        return self.root / key_of(sha256)

    def put(self, sha256: str, source: IO[bytes]) -> None:
        path = self.path(sha256)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as handle:
            while chunk := source.read(CHUNK_BYTES):
                handle.write(chunk)
        os.replace(handle.name, path)  # readers see the whole file or none

    def chunks(self, sha256: str) -> Iterator[bytes]:
        try:
            handle = self.path(sha256).open("rb")
        except FileNotFoundError:
            raise MissingObject(sha256) from None
        return _read(handle)

    def exists(self, sha256: str) -> bool:
        try:
            return self.path(sha256).is_file()
        except MissingObject:
            return False

    def names(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for path in sorted(self.root.glob("??/*")):
            if path.is_file() and path.parent.name == path.name[:2] and len(path.name) == 64:
                yield path.name


def _read(handle: IO[bytes]) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(CHUNK_BYTES):
            yield chunk


@dataclass(frozen=True)
class BucketStore:
    """An S3-compatible bucket (AWS, MinIO, Ceph, moto) through boto3."""

    bucket: str
    prefix: str
    client: Any  # botocore's client is generated at run time: no static type

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def key(self, sha256: str) -> str:
        return f"{self.prefix}{key_of(sha256)}"

    def put(self, sha256: str, source: IO[bytes]) -> None:
        if self.exists(sha256):
            return
        # upload_fileobj reads in parts (multipart above 8 MB): the source is never loaded whole.
        self.client.upload_fileobj(source, self.bucket, self.key(sha256))

    def chunks(self, sha256: str) -> Iterator[bytes]:
        from botocore.exceptions import ClientError

        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.key(sha256))
        except ClientError as error:
            if _status(error) == 404:
                raise MissingObject(sha256) from None
            raise
        body = answer["Body"]
        return _stream(body)

    def exists(self, sha256: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(sha256))
        except MissingObject:
            return False
        except ClientError as error:
            if _status(error) == 404:
                return False
            raise
        return True

    def names(self) -> Iterator[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        )
        for page in pages:
            for item in page.get("Contents", []):
                name = str(item["Key"]).rsplit("/", 1)[-1]
                if len(name) == 64:
                    yield name


def _status(error: Exception) -> int:
    response = getattr(error, "response", {}) or {}
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _stream(body: Any) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(CHUNK_BYTES)
    finally:
        body.close()


def open_store(url: str | None, settings: Settings) -> Store:
    """The store a URL names: ``s3://bucket/prefix``, ``file:///path`` or a plain path; None is
    the embedded default, ``attachments_dir``."""
    if not url:
        return FolderStore(settings.attachments_dir)
    parts = urlsplit(url)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise StorageError(f"{url}: no bucket (s3://bucket/prefix)")
        prefix = parts.path.strip("/")
        return BucketStore(parts.netloc, f"{prefix}/" if prefix else "", _client(settings))
    if parts.scheme == "file":
        return FolderStore(Path(parts.path))
    if parts.scheme == "":
        return FolderStore(Path(url))
    raise StorageError(f"{url}: a storage URL is s3://bucket/prefix or a folder")


def _client(settings: Settings) -> Any:
    import boto3
    from botocore.config import Config

    secret = settings.storage_secret_access_key
    return boto3.session.Session().client(
        "s3",
        endpoint_url=settings.storage_endpoint_url,
        region_name=settings.storage_region,
        aws_access_key_id=settings.storage_access_key_id,
        aws_secret_access_key=secret.get_secret_value() if secret else None,
        config=Config(
            connect_timeout=settings.storage_timeout_seconds,
            read_timeout=settings.storage_timeout_seconds,
            retries={"max_attempts": 3, "mode": "standard"},
            s3={"addressing_style": settings.storage_addressing_style},
        ),
    )


_current: tuple[Settings, Store] | None = None


def get_store() -> Store:
    """The configured store, built once per settings object (boto3 clients are thread-safe)."""
    global _current
    settings = get_settings()
    if _current is None or _current[0] is not settings:  # new settings (tests): a new store
        _current = (settings, open_store(settings.storage_url, settings))
    return _current[1]


class _ChunkReader(io.RawIOBase):
    """A readable file over an iterator of chunks, so one store's stream feeds another's put."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._rest = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._rest:
            try:
                self._rest = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._rest))
        buffer[:size] = self._rest[:size]
        self._rest = self._rest[size:]
        return size


@dataclass
class CopyReport:
    copied: int = 0
    present: int = 0
    failed: list[str] = field(default_factory=list)


def copy_all(source: Store, target: Store, progress: Callable[[str, str], None]) -> CopyReport:
    """Copy every object of ``source`` missing from ``target``, then hash each one in the target;
    an object whose bytes do not hash to its name (in either store) is reported, never hidden."""
    report = CopyReport()
    for name in source.names():
        if target.exists(name) and verify(target, name):
            report.present += 1
            progress(name, "present")
            continue
        if not verify(source, name):
            report.failed.append(name)
            progress(name, "source damaged")
            continue
        target.put(name, io.BufferedReader(_ChunkReader(source.chunks(name)), CHUNK_BYTES))
        if verify(target, name):
            report.copied += 1
            progress(name, "copied")
        else:
            report.failed.append(name)
            progress(name, "copy does not verify")
    return report
