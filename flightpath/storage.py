"""Where shared state lives: local disk (embedded) or S3-compatible object storage (production).

`FLIGHTPATH_STORAGE_URL=s3://bucket/prefix` puts the lake at `<url>/lake` and the model store's
shared copy at `<url>/models`. Unset, everything stays under `$FLIGHTPATH_HOME`. The endpoint and
credentials are the standard AWS variables (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`,
`AWS_SECRET_ACCESS_KEY`, `AWS_REGION` / `AWS_DEFAULT_REGION`), read by botocore as usual.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from upath import UPath

if TYPE_CHECKING:  # s3fs pulls in aiobotocore: only where the bucket is used
    from fsspec import AbstractFileSystem

STORAGE_VARIABLE = "FLIGHTPATH_STORAGE_URL"
SCHEME = "s3://"


class StorageConfigError(ValueError):
    """`FLIGHTPATH_STORAGE_URL` set to something that is not `s3://bucket[/prefix]`."""


def storage_url() -> str | None:
    """`s3://bucket/prefix` (no trailing slash) in the production profile; None when unset."""
    value = os.environ.get(STORAGE_VARIABLE, "").strip().rstrip("/")
    if not value:
        return None
    if not value.startswith(SCHEME) or not value[len(SCHEME) :].split("/")[0]:
        raise StorageConfigError(
            f"{STORAGE_VARIABLE}={value!r}: expected s3://bucket or s3://bucket/prefix"
        )
    return value


def is_remote(location: str) -> bool:
    return location.startswith(SCHEME)


def lake_location(home: Path) -> str:
    """The lake: `<storage url>/lake` in the production profile, `home/lake` otherwise."""
    url = storage_url()
    return f"{url}/lake" if url else str(home / "lake")


def models_location() -> str | None:
    """Where saved models and the alias state are shared; None: the local store only."""
    url = storage_url()
    return f"{url}/models" if url else None


def storage_options() -> dict[str, Any]:
    """s3fs options from the AWS variables. The endpoint is passed explicitly (not left to
    botocore) so that fsspec's cache of filesystems keys on it: one process may use two."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    options: dict[str, Any] = {
        "endpoint_url": os.environ.get("AWS_ENDPOINT_URL") or None,
        # Long-lived processes (the service, the code server) must see objects other machines
        # add: no cached directory listings.
        "use_listings_cache": False,
    }
    if region:
        options["client_kwargs"] = {"region_name": region}
    return options


def object_storage() -> AbstractFileSystem:
    """The S3 filesystem (fsspec) the AWS variables describe."""
    import s3fs

    return s3fs.S3FileSystem(**storage_options())


def location(where: str) -> UPath:
    """A path-like handle on `where`: a local path, or an object (prefix) in the bucket."""
    return UPath(where, **storage_options()) if is_remote(where) else UPath(where)
