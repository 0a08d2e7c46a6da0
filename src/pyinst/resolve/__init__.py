"""Resolve requirements to pinned distributions with resolvelib and our provider."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import resolvelib
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from resolvelib.structs import RequirementInformation

from ..errors import (
    NoCompatibleDistribution,
    NoMatchingVersion,
    ProjectNotFound,
    ResolutionImpossible,
)
from ..models import Pin, Resolution
from .provider import PYTHON, Cand, Provider, PythonReq, Req, ResolveOptions, to_req

__all__ = ["Provider", "Req", "ResolveOptions", "resolve_requirements", "to_req"]

_MAX_ROUNDS = 20000


class _Reporter(resolvelib.BaseReporter):  # type: ignore[type-arg]
    """Tells the provider about each pin as it happens (to start downloads early)."""

    def __init__(self, provider: Provider) -> None:
        self._provider = provider

    def pinning(self, candidate: object) -> None:
        if isinstance(candidate, Cand):
            self._provider.pinned(candidate)


def resolve_requirements(provider: Provider, roots: Sequence[Requirement],
                         *, env: Mapping[str, str]) -> Resolution:
    """Pin every distribution ``roots`` need. Markers are evaluated against ``env``."""
    reqs = [to_req(r) for r in roots
            if r.marker is None or r.marker.evaluate({**env, "extra": ""})]
    provider.prefetch([r for r in reqs if not r.url])
    resolver: resolvelib.Resolver = resolvelib.Resolver(  # type: ignore[type-arg]
        provider, _Reporter(provider))
    try:
        result = resolver.resolve(reqs, max_rounds=_MAX_ROUNDS)
    except resolvelib.ResolutionImpossible as exc:
        raise explain(provider, list(exc.causes)) from None
    except resolvelib.ResolutionTooDeep as exc:
        raise ResolutionImpossible(
            f"gave up after {exc.round_count} rounds: these requirements have too many "
            "conflicting combinations; pin some versions to help") from None
    finally:
        provider.stop_looking_ahead()

    requested = {r.name for r in reqs}
    requested_extras: dict[str, set[str]] = {}
    for r in reqs:
        requested_extras.setdefault(r.name, set()).update(r.extras)
    pins: dict[NormalizedName, Pin] = {}
    for ident, cand in result.mapping.items():
        if ident == PYTHON or not isinstance(cand, Cand) or cand.extras:
            continue
        deps = tuple(Requirement(str(d)) for d in _dependency_texts(provider, cand))
        pins[cand.name] = Pin(
            name=cand.name,
            version=cand.version,
            link=None if cand.installed is not None else cand.link,
            installed_at=cand.installed.site_dir if cand.installed is not None else None,
            metadata=provider.metadata(cand),
            direct=cand.direct,
            editable=cand.editable,
            requested=cand.name in requested,
            requested_extras=frozenset(requested_extras.get(cand.name, ())),
            dependencies=deps,
            allowed_hashes={k: tuple(v) for k, v in
                            provider.options.hashes.get(cand.name, {}).items()},
        )
    return Resolution(pins=dict(sorted(pins.items())))


def _dependency_texts(provider: Provider, cand: Cand) -> list[str]:
    out = []
    for r in provider.get_dependencies(cand):
        if isinstance(r, Req):
            out.append(f"{r.name} @ {r.url}" if r.url else f"{r.name}{r.specifier}")
    return out


def _who(info: RequirementInformation) -> str:  # type: ignore[type-arg]
    parent = info.parent
    return "you" if parent is None else f"{parent.name} {parent.version}"


def explain(provider: Provider, causes: list[RequirementInformation]  # type: ignore[type-arg]
            ) -> Exception:
    """Turn resolvelib's causes into the most specific error we can name."""
    by_ident: dict[str, list[RequirementInformation]] = {}  # type: ignore[type-arg]
    for c in causes:
        by_ident.setdefault(c.requirement.identifier, []).append(c)

    python_causes = by_ident.pop(PYTHON, [])
    if python_causes and not by_ident:
        parts = [f"{_who(c)} requires {c.requirement}" for c in python_causes]
        version = provider.python_version
        return ResolutionImpossible(
            f"the target has Python {version}, but " + "; ".join(parts),
            conflicts=parts)

    # A single requirement that nothing can satisfy: name the precise reason.
    if len(by_ident) == 1:
        ident, infos = next(iter(by_ident.items()))
        reqs = [i.requirement for i in infos if isinstance(i.requirement, Req)]
        name = canonicalize_name(ident.split("[", 1)[0])
        parents = {(_who(i)) for i in infos}
        required_by = None if parents == {"you"} else ", ".join(sorted(parents - {"you"}))
        same = len(reqs) == 1 or len({str(r.specifier) for r in reqs}) == 1
        if same and not any(r.url for r in reqs):
            if not provider.project_found(name):
                return ProjectNotFound(name, locations=provider.project_locations(name),
                                       required_by=required_by)
            ev = provider.evaluation(name)
            if not ev.usable:
                return NoCompatibleDistribution(
                    name, reason=ev.explain(provider.python_version),
                    required_by=required_by)
            versions = sorted(ev.best_by_version())
            spec = " and ".join(str(r.specifier) or "any" for r in reqs[:1])
            return NoMatchingVersion(
                name, requirement=f"{name}{spec}" if spec != "any" else name,
                available=[str(v) for v in versions[-12:]], required_by=required_by)

    parts = []
    for infos in by_ident.values():
        for i in infos:
            parts.append(f"{_who(i)} {'requires' if i.parent else 'requested'} "
                         f"{i.requirement}")
    for c in python_causes:
        parts.append(f"{_who(c)} requires {c.requirement}")
    summary = []
    for ident in by_ident:
        name = canonicalize_name(ident.split("[", 1)[0])
        try:
            versions = sorted(provider.evaluation(name).best_by_version())
        except Exception:
            versions = []
        if versions:
            summary.append(f"{name} versions available: "
                           + ", ".join(str(v) for v in versions[-8:]))
    names = ", ".join(sorted({canonicalize_name(i.split("[", 1)[0]) for i in by_ident}))
    message = f"conflicting requirements for {names}: " + "; ".join(parts)
    if summary:
        message += " (" + "; ".join(summary) + ")"
    first = next(iter(by_ident), None)
    return ResolutionImpossible(message, package=first.split("[", 1)[0] if first else None,
                                conflicts=parts)


__all__ += ["PythonReq"]
