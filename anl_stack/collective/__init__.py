"""A collective of communes: a shared folder, its signed members file and one signed file per commune.

Modules, one job each: :mod:`.model` (layout, reading untrusted files,
schema checks), :mod:`.signatures` (OpenPGP signing and checking with
gnupg), :mod:`.members` (the members file's versions and the quorum rule),
:mod:`.publish` (a commune's file from its inventory and verify report,
never a secret), :mod:`.verify` (every signature checked; what is not
trusted is reported and ignored), :mod:`.status` (who runs what). The
formats are described in docs/collective.md.
"""
