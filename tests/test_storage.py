"""Photos in object storage: the S3 path against a real S3-compatible server (moto_server in its
own process, spoken to over HTTP), the folder path as before, and `reflections storage migrate`
copying a folder into a bucket with every hash checked."""

import hashlib
import io
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from reflections.cli import app as cli
from reflections.lifecycle.photos import clean
from reflections.platform.settings import get_settings
from reflections.platform.storage import (
    BucketStore,
    FolderStore,
    MissingObject,
    get_store,
    open_store,
    verify,
)
from tests.api_helpers import as_citizen
from tests.images import stored_sha, unique_png
from tests.s3_peer import S3Server, moto_server
from tests.test_api_errors import PNG, assert_problem

runner = CliRunner()


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with moto_server(log) as server:
        server.create_bucket("photos")
        yield server


@pytest.fixture
def in_bucket(s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The service's photos in s3://photos/<a prefix of this test>, for this test only."""
    prefix = f"hue-{uuid.uuid4().hex[:8]}"
    for name, value in s3.settings(f"s3://photos/{prefix}").items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield prefix
    monkeypatch.undo()
    get_settings.cache_clear()


def _photo(seed: str) -> bytes:
    """A distinct PNG per test: the sniffer reads the signature, the tail makes the hash new."""
    return PNG + seed.encode()


def _submit(client: TestClient, photo: bytes) -> dict[str, object]:
    response = client.post(
        "/api/v1/reflections/with-photos",
        data={"description": "Cây đổ chắn đường Lê Duẩn", "address": "Lê Duẩn, Huế"},
        files=[("photos", ("cay.png", photo, "image/png"))],
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_photos_go_to_the_bucket_and_are_served_only_to_who_may_see_them(
    client: TestClient, s3: S3Server, in_bucket: str
) -> None:
    photo = unique_png()
    sha, clean_bytes = stored_sha(photo), clean(photo).content  # stored as re-encoded
    out = _submit(client, photo)
    code, key = out["tracking_code"], out["citizen_key"]
    assert isinstance(code, str) and isinstance(key, str)

    stored = s3.client().get_object(Bucket="photos", Key=f"{in_bucket}/{sha[:2]}/{sha}")
    assert stored["Body"].read() == clean_bytes  # in the bucket, under its SHA-256
    assert not FolderStore(get_settings().attachments_dir).exists(sha)  # and not on this disk

    served = client.get(f"/api/v1/reflections/{code}/photos/{sha}", headers=as_citizen(key))
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"
    assert served.content == clean_bytes
    refused = client.get(f"/api/v1/reflections/{code}/photos/{sha}", headers=as_citizen("x" * 20))
    assert_problem(refused, 404)  # proxied reads keep the access rules; the bucket is private


def test_an_object_missing_from_the_bucket_is_a_404_not_a_500(
    client: TestClient, s3: S3Server, in_bucket: str
) -> None:
    photo = unique_png()
    sha = stored_sha(photo)
    out = _submit(client, photo)
    s3.client().delete_object(Bucket="photos", Key=f"{in_bucket}/{sha[:2]}/{sha}")
    served = client.get(
        f"/api/v1/reflections/{out['tracking_code']}/photos/{sha}",
        headers=as_citizen(str(out["citizen_key"])),
    )
    assert_problem(served, 404)


def test_a_large_object_is_streamed_both_ways(s3: S3Server, in_bucket: str) -> None:
    """20 MB: above boto3's multipart threshold, read back in chunks, verified by its hash."""
    content = os.urandom(20 * 2**20)
    sha = hashlib.sha256(content).hexdigest()
    store = get_store()
    assert isinstance(store, BucketStore)
    store.put(sha, io.BytesIO(content))
    chunks = list(store.chunks(sha))
    assert len(chunks) > 1 and max(len(c) for c in chunks) <= 64 * 1024
    assert b"".join(chunks) == content
    assert verify(store, sha)
    assert sha in set(store.names())


def test_names_outside_the_store_are_never_opened(tmp_path: Path) -> None:
    (tmp_path / "secret").write_bytes(b"x")
    store = FolderStore(tmp_path / "photos")
    for name in ("../secret", "a" * 63, "A" * 64, "../" + "a" * 61):
        assert not store.exists(name)
        with pytest.raises(MissingObject):
            store.chunks(name)


def _folder_with_photos(root: Path, count: int) -> tuple[FolderStore, list[str]]:
    store = FolderStore(root)
    names = []
    for index in range(count):
        content = _photo(f"{root.name}-{index}")
        name = hashlib.sha256(content).hexdigest()
        store.put(name, io.BytesIO(content))
        names.append(name)
    return store, names


def test_migrate_copies_a_folder_into_a_bucket_and_verifies_each_hash(
    tmp_path: Path, s3: S3Server, in_bucket: str
) -> None:
    folder, names = _folder_with_photos(tmp_path / "attachments", 3)
    damaged = hashlib.sha256(b"what it was").hexdigest()
    folder.put(damaged, io.BytesIO(b"what it became"))  # a file whose bytes changed on disk

    first = runner.invoke(cli, ["storage", "migrate", "--from", str(folder.root)])
    assert first.exit_code == 1, first.output
    assert f"{damaged} source damaged" in first.output
    assert "3 copied, 0 already there, 1 failed" in first.output
    bucket = get_store()
    assert all(verify(bucket, name) for name in names)
    assert not bucket.exists(damaged)  # a damaged file is reported, never copied

    (folder.root / damaged[:2] / damaged).unlink()  # the operator deals with it
    again = runner.invoke(cli, ["storage", "migrate", "--from", str(folder.root)])
    assert again.exit_code == 0, again.output
    assert "0 copied, 3 already there, 0 failed" in again.output


def test_migrate_refuses_without_a_target_or_onto_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REFLECTIONS_STORAGE_URL", raising=False)
    get_settings.cache_clear()
    folder, _ = _folder_with_photos(tmp_path / "attachments", 1)
    no_target = runner.invoke(cli, ["storage", "migrate", "--from", str(folder.root)])
    assert no_target.exit_code == 2
    assert "no target" in no_target.output
    itself = runner.invoke(
        cli, ["storage", "migrate", "--from", str(folder.root), "--to", str(folder.root)]
    )
    assert itself.exit_code == 2
    assert "both source and target" in itself.output
    bad = runner.invoke(cli, ["storage", "migrate", "--to", "ftp://example/photos"])
    assert bad.exit_code == 2
    assert "s3://bucket/prefix" in bad.output
    assert open_store(None, get_settings()) == FolderStore(get_settings().attachments_dir)
