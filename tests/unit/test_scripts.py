"""Console scripts are written by pyinst on POSIX (importing installer for them would cost
every warm install its whole import); they must be what installer itself writes."""

from __future__ import annotations

import pytest
from installer.scripts import Script

from pyinst.apply import posix_script


@pytest.mark.parametrize("interpreter", [
    "/usr/bin/python3",
    "/tmp/with space/bin/python",
    "/opt/" + "long" * 40 + "/bin/python",
    "/tmp/it's/bin/python",
    "/x/" + "y" * 118 + "/py",  # the longest a shebang line may be
    "/x/" + "y" * 119 + "/py",  # one more
])
@pytest.mark.parametrize(("module", "attr"), [("black", "patched_main"), ("a.b", "C.run")])
def test_posix_scripts_are_byte_for_byte_installers(interpreter: str, module: str,
                                                    attr: str) -> None:
    _, expected = Script("tool", module, attr, "console").generate(interpreter, "posix")
    assert posix_script(interpreter, module, attr) == expected
