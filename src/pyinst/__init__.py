"""pyinst: a Python package installer built as a library first.

Heavy modules are imported on first use of a name, so ``import pyinst`` stays cheap.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # not typing's: importing typing costs `import pyinst` ~5 ms

__version__ = "0.1.0"

_EXPORTS = {
    "Config": "config",
    "IndexStrategy": "config",
    "BinaryPolicy": "config",
    "InvalidConfig": "config",
    "Target": "target",
    "Installer": "api",
    "install": "api",
    "create_venv": "bootstrap",
    "Link": "models",
    "Pin": "models",
    "Resolution": "models",
    "InstallPlan": "models",
    "InstallResult": "models",
    "PyinstError": "errors",
    "ResolutionImpossible": "errors",
    "ProjectNotFound": "errors",
    "NoMatchingVersion": "errors",
    "NoCompatibleDistribution": "errors",
    "HashMismatch": "errors",
    "InvalidWheel": "errors",
    "IndexFetchError": "errors",
    "InstallError": "errors",
    "TargetError": "errors",
    "CacheError": "errors",
}

__all__ = [
    "BinaryPolicy",
    "CacheError",
    "Config",
    "HashMismatch",
    "IndexFetchError",
    "IndexStrategy",
    "InstallError",
    "InstallPlan",
    "InstallResult",
    "Installer",
    "InvalidConfig",
    "InvalidWheel",
    "Link",
    "NoCompatibleDistribution",
    "NoMatchingVersion",
    "Pin",
    "ProjectNotFound",
    "PyinstError",
    "Resolution",
    "ResolutionImpossible",
    "Target",
    "TargetError",
    "__version__",
    "create_venv",
    "install",
]

if TYPE_CHECKING:
    from typing import Any

    from .api import Installer, install
    from .bootstrap import create_venv
    from .config import BinaryPolicy, Config, IndexStrategy, InvalidConfig
    from .errors import (
        CacheError,
        HashMismatch,
        IndexFetchError,
        InstallError,
        InvalidWheel,
        NoCompatibleDistribution,
        NoMatchingVersion,
        ProjectNotFound,
        PyinstError,
        ResolutionImpossible,
        TargetError,
    )
    from .models import InstallPlan, InstallResult, Link, Pin, Resolution
    from .target import Target


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pyinst' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # state-ok: caching the module's own lazily imported names
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
