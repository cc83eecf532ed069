"""Lab hosts: disposable Debian 13/12 servers booted with systemd-nspawn.

Public API (used by deploy, verify and the test fixtures)::

    host = lab.up("lab13", release="13")   # idempotent
    host.ssh("systemctl is-system-running")
    lab.add_names("lab13", ["live.lab13.anl.test"])
    lab.link("lab13", "lab12", 22)         # lab13 may open SSH on lab12
    lab.open_controller_port("lab13", 14000)  # and TCP 14000 on its gateway address
    lab.down("lab13")
    lab.down_all()                         # the hosts this user created (everyone=True: all)

Everything needs root; see docs/lab.md.
"""

from anl_stack.lab.owner import Selection, select_all
from anl_stack.lab.service import (
    LabHost,
    add_names,
    down,
    down_all,
    down_hosts,
    get,
    link,
    list_hosts,
    open_controller_port,
    preflight,
    status_label,
    up,
)

__all__ = [
    "LabHost", "Selection", "add_names", "down", "down_all", "down_hosts", "get", "link", "list_hosts",
    "open_controller_port", "preflight", "select_all", "status_label", "up",
]
