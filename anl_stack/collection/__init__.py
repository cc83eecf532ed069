"""The Ansible collection for AWX / Ansible Automation Platform (``anl-stack collection build``).

stage: the collection's tree (galaxy.yml, roles, playbooks, embedded manifest facts);
playbooks: a plugin's lifecycle playbooks rewritten to resolve inside the collection;
build: the archive, built with ``ansible-galaxy collection build`` and moved into place at the end.
The static content the collection adds (the ``gate`` role, the firewall filter) is in content/.
"""
