"""Keeping secrets out of what pyinst says and writes. Pure, and cheap to import."""

from __future__ import annotations

import re

_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^/@:\s]*)"
                       r"(?::(?P<password>[^/@\s]*))?@")


def redact(text: str) -> str:
    """``text`` with the secrets of any URL in it masked, for messages and logs:
    ``user:****@`` for a password, ``****@`` for a lone token (``git@`` stays)."""
    def mask(m: re.Match[str]) -> str:
        user, password = m.group("user"), m.group("password")
        if password is not None:
            return f"{m.group('scheme')}{user}:****@"
        return m.group(0) if user == "git" else f"{m.group('scheme')}****@"
    return _USERINFO.sub(mask, text)


def without_credentials(url: str) -> str:
    """``url`` with no user information at all (for what is written down: lock files,
    direct_url.json, reports); an ssh ``git@`` stays, it is no secret."""
    def drop(m: re.Match[str]) -> str:
        keep = m.group("user") == "git" and m.group("password") is None
        return m.group(0) if keep else m.group("scheme")
    return _USERINFO.sub(drop, url)


__all__ = ["redact", "without_credentials"]
