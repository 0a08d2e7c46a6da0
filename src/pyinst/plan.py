"""Resolution x installed distributions -> InstallPlan. Pure."""

from __future__ import annotations

from collections.abc import Mapping

from packaging.utils import NormalizedName

from .models import InstalledDistribution, InstallPlan, Pin, Resolution


def make_plan(resolution: Resolution,
              installed: Mapping[NormalizedName, InstalledDistribution]) -> InstallPlan:
    """What to install, what it replaces, and what is already there."""
    to_install: list[Pin] = []
    to_remove: list[InstalledDistribution] = []
    satisfied: list[Pin] = []
    for pin in resolution:
        if pin.installed_at is not None:
            satisfied.append(pin)
            continue
        to_install.append(pin)
        old = installed.get(pin.name)
        if old is not None:
            to_remove.append(old)
    return InstallPlan(to_install=tuple(to_install), to_remove=tuple(to_remove),
                       already_satisfied=tuple(satisfied))
