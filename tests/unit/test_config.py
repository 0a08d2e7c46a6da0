"""`Config` refuses values it cannot work with when it is made, naming the field, rather
than failing (or silently clamping) deep inside a call."""

from __future__ import annotations

import math

import pytest

from pyinst import Config, InvalidConfig


@pytest.mark.parametrize(("field", "value", "rule"), [
    ("timeout", 0, "more than 0"), ("timeout", math.nan, "more than 0"),
    ("retries", -1, "0 or more"), ("retry_backoff", -0.5, "0 or more"),
    ("max_workers", 0, "1 or more"), ("unpack_processes", -3, "0 or more"),
    ("lock_timeout", -1.0, "0 or more"),
    ("link_mode", "reflink", "one of hardlink, copy, symlink"),
])
def test_values_out_of_range_are_refused(field: str, value: object, rule: str) -> None:
    with pytest.raises(InvalidConfig) as info:
        Config(**{field: value})  # type: ignore[arg-type]
    assert info.value.field == field and info.value.reason == f"must be {rule}, not {value!r}"
    assert isinstance(info.value, ValueError)
    with pytest.raises(InvalidConfig):  # a copy with a change is checked as well
        Config().with_(**{field: value})


def test_edges_and_defaults_are_accepted() -> None:
    Config()
    Config(retries=0, retry_backoff=0, max_workers=1, unpack_processes=0, lock_timeout=0,
           timeout=0.001, link_mode="symlink")
    Config(unpack_processes=None, lock_timeout=None)


def test_provision_needs_at_least_one_worker() -> None:
    from pyinst import Installer

    with Installer(Config(index_urls=())) as inst, pytest.raises(ValueError, match="1 or more"):
        inst.provision({}, max_workers=0)
