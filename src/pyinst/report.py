"""pip's installation report (format version 1), so tools that read pip's read ours."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from packaging.metadata import parse_email

from . import __version__
from .models import InstallPlan, Pin
from .redact import without_credentials

_MULTI = {"platform", "supported_platform", "classifiers", "requires_dist", "provides_dist",
          "obsoletes_dist", "requires_external", "project_url", "provides_extra",
          "dynamic", "license_files", "import_names", "import_namespaces"}


def metadata_json(raw_metadata: bytes) -> dict[str, Any]:
    """Core metadata as JSON, as PEP 566 describes (and pip's report carries)."""
    raw, _ = parse_email(raw_metadata)
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "project_urls" and isinstance(value, Mapping):
            out["project_url"] = [f"{k}, {v}" for k, v in value.items()]
        elif key == "description":
            out["description"] = value
        else:
            out[key] = value
    return out


def _item(pin: Pin) -> dict[str, Any]:
    assert pin.link is not None
    archive: dict[str, Any] = {}
    if pin.link.hashes:
        archive["hashes"] = dict(pin.link.hashes)
        name, digest = next(iter(sorted(pin.link.hashes.items())))
        archive["hash"] = f"{name}={digest}"
    item: dict[str, Any] = {
        "download_info": {"url": without_credentials(pin.link.url), "archive_info": archive},
        "is_direct": pin.direct,
        "is_yanked": pin.link.yanked is not None,
        "requested": pin.requested,
        "metadata": metadata_json(pin.metadata),
    }
    if pin.requested_extras:
        item["requested_extras"] = sorted(pin.requested_extras)
    return item


def installation_report(plan: InstallPlan, environment: Mapping[str, str]) -> dict[str, Any]:
    return {
        "version": "1",
        "pip_version": f"pyinst-{__version__}",
        "install": [_item(p) for p in plan.to_install],
        "environment": dict(environment),
    }
