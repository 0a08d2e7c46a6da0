from __future__ import annotations

import pytest

from pyinst.errors import IndexFetchError
from pyinst.redact import redact, without_credentials


@pytest.mark.parametrize(("text", "shown", "written"), [
    ("https://u:p@h/simple/", "https://u:****@h/simple/", "https://h/simple/"),
    ("see https://tok@h/x and http://a:b@c/", "see https://****@h/x and http://a:****@c/",
     "see https://h/x and http://c/"),
    ("git+ssh://git@github.com/o/r.git", "git+ssh://git@github.com/o/r.git",
     "git+ssh://git@github.com/o/r.git"),
    ("https://h/simple/", "https://h/simple/", "https://h/simple/"),
    ("https://:p@h/", "https://:****@h/", "https://h/"),
])
def test_redaction(text: str, shown: str, written: str) -> None:
    assert redact(text) == shown
    assert without_credentials(text) == written


def test_every_error_message_is_redacted() -> None:
    err = IndexFetchError("https://me:hunter2@idx/simple/x/ returned HTTP 500",
                          url="https://me:hunter2@idx/simple/x/")
    assert "hunter2" not in str(err) and "me:****@" in str(err)
    assert err.url is not None and "hunter2" not in err.url
