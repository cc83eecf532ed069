"""Which deploy runs need the plugins' releases (artifacts): only those reaching tag ``app``."""

from __future__ import annotations

import pytest

from anl_stack.deploy.prepare import needs_artifacts


@pytest.mark.parametrize(("tags", "skip_tags", "expected"), [
    (None, None, True),            # a full deploy installs the application
    ("", None, True),
    ("app", None, True),
    ("stack,app", None, True),
    (" stack , app ", None, True),
    ("all", None, True),
    ("stack", None, False),        # prepares the server only
    ("stack,firewall", None, False),
    (None, "app", False),
    ("stack,app", "app", False),
])
def test_needs_artifacts(tags: str | None, skip_tags: str | None, expected: bool) -> None:
    assert needs_artifacts(tags, skip_tags) is expected
