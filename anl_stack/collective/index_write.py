"""``anl-stack collective index``: the collective's own signed index, for other collectives to include.

The index lists the current members and copies the commune files
:func:`anl_stack.collective.verify.verify` trusts, as they are; it is signed
by the member who writes it. Earlier signatures are removed: they signed
another content. Reading and including indexes is
:mod:`anl_stack.collective.index`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from anl_stack.collective import signatures
from anl_stack.collective.index import (
    INDEX_FILE,
    INDEX_HEADER,
    INDEX_SIGNATURE,
    INDEX_TAG,
    member_fingerprint,
    signature_name,
)
from anl_stack.collective.model import RECORD_TAG, SCHEMA, collective_root, dump, listing, read_bytes, sha256_bytes
from anl_stack.collective.verify import verify
from anl_stack.core.files import write_file


def make_index(folder: Path, *, key: str) -> Path:
    """Write ``index.yml`` from what ``collective verify`` trusts, signed with ``key`` (a current member's)."""
    root = collective_root(folder)
    result = verify(root)
    fingerprint = member_fingerprint(result.chain, key)
    current = result.chain.current
    assert current is not None
    members_bytes = read_bytes(root, current.file)
    record = {
        RECORD_TAG: INDEX_TAG, "schema": SCHEMA, "collective": current.collective,
        "members_version": current.version, "members_sha256": sha256_bytes(members_bytes),
        "date": dt.date.today().isoformat(),
        "members": [{"commune": m.commune, "insee": m.insee, "fingerprint": m.fingerprint}
                    for m in current.members],
        "communes": [c.data for c in sorted(result.communes, key=lambda c: c.insee)],
    }
    text = dump(record, INDEX_HEADER).encode("utf-8")
    signature, public_key = signatures.sign_bytes(text, fingerprint)
    target = root / INDEX_FILE
    for stale in listing(root, "."):
        if INDEX_SIGNATURE.match(stale.name):  # signatures of an earlier index no longer match it
            stale.unlink()
    signatures.store_key(root, fingerprint, public_key)
    write_file(target, text, root=root)
    write_file(root / signature_name(fingerprint), signature, root=root)
    return target
