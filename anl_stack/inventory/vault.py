"""Generated secrets: ``group_vars/all/vault.yml``, encrypted with Ansible's own vault library.

Plugins declare the secrets they need (manifest ``deployment.secrets``).
Missing ones are generated once with Python's :mod:`secrets`; existing
values are never regenerated. The clear text only lives in this process's
memory: it is never printed (except ``secrets show --reveal``), never
passed to Ansible as a variable or argument. Ansible decrypts the file
itself with the vault password file.
"""

from __future__ import annotations

import difflib
import secrets as pysecrets
import string
from pathlib import Path
from typing import Any

import yaml

from anl_stack.core.errors import AnlError
from anl_stack.core.files import write_file
from anl_stack.core.i18n import _
from anl_stack.core.yamlfile import parse
from anl_stack.inventory.model import InventoryPaths

_ALPHABET = string.ascii_letters + string.digits


def generate(kind: str, length: int) -> str:
    """A fresh random value of ``length`` characters (alphabets in docs/manifest.md, "Secret kinds"):
    password: letters and digits, so it fits any config file unquoted; token: URL-safe base64
    (letters, digits, ``-`` and ``_``); hex: lower-case hexadecimal digits."""
    if kind == "hex":
        return pysecrets.token_hex((length + 1) // 2)[:length]
    if kind == "token":
        return pysecrets.token_urlsafe(length)[:length]
    return "".join(pysecrets.choice(_ALPHABET) for _ in range(length))


def _vault_lib(password_file: Path) -> Any:
    # Imported lazily: Ansible is heavy and only needed when secrets are touched.
    from ansible.errors import AnsibleError
    from ansible.parsing.dataloader import DataLoader
    from ansible.parsing.vault import VaultLib, get_file_vault_secret

    try:
        secret = get_file_vault_secret(filename=str(password_file), vault_id="default", loader=DataLoader())
        secret.load()
    except (AnsibleError, OSError) as error:
        raise AnlError(_("cannot read the vault password: {error}").format(error=error), file=str(password_file),
                       key="vault_password_file", expected=_("a readable file, or an executable printing it")) from None
    return VaultLib([("default", secret)])


def read_secrets(paths: InventoryPaths, password_file: Path) -> dict[str, Any]:
    """The decrypted secrets of an inventory ({} when there is no vault yet)."""
    if not paths.vault.is_file():
        return {}
    from ansible.errors import AnsibleError

    vault = _vault_lib(password_file)
    try:
        clear = vault.decrypt(paths.vault.read_bytes())
    except AnsibleError as error:
        raise AnlError(_("cannot decrypt: {error}").format(error=error), file=str(paths.vault),
                       expected=_("the vault password this inventory was created with")) from None
    data = parse(clear.decode("utf-8", errors="replace"), str(paths.vault))[0] or {}
    if not isinstance(data, dict):
        raise AnlError(_("the decrypted vault is not a mapping"), file=str(paths.vault), expected=_("name: value lines"))
    return data


def write_secrets(paths: InventoryPaths, password_file: Path, values: dict[str, Any]) -> None:
    """Encrypt and write atomically, mode 0600."""
    vault = _vault_lib(password_file)
    clear = yaml.safe_dump(values, sort_keys=True, default_flow_style=False)
    data = vault.encrypt(clear)
    write_file(paths.vault, data, mode=0o600, root=paths.root)


def ensure_secrets(paths: InventoryPaths, password_file: Path, declared: list[Any]) -> list[str]:
    """Generate the declared secrets that are missing; return their names (never values).

    ``declared`` holds manifest secrets (``name``, ``kind``, ``length``).
    """
    current = read_secrets(paths, password_file)
    added: list[str] = []
    for secret in declared:
        if secret.name not in current:
            current[secret.name] = generate(secret.kind, secret.length)
            added.append(secret.name)
    if added:
        write_secrets(paths, password_file, current)
    return added


def ensure_ssh_key_pair(paths: InventoryPaths, password_file: Path, name: str, public_name: str,
                        comment: str) -> bool:
    """Generate an Ed25519 key pair once into the vault (``name``: private, ``public_name``: public)."""
    current = read_secrets(paths, password_file)
    if name in current and public_name in current:
        return False
    # cryptography comes with ansible-core; imported here because only this needs it.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    current[name] = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                      serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    current[public_name] = f"{public.decode()} {comment}"
    write_secrets(paths, password_file, current)
    return True


def secret_names(paths: InventoryPaths, password_file: Path) -> list[str]:
    return sorted(read_secrets(paths, password_file))


def reveal(paths: InventoryPaths, password_file: Path, name: str) -> str:
    values = read_secrets(paths, password_file)
    if name not in values:
        close = difflib.get_close_matches(name, list(values), n=1)
        hint = _("; did you mean {name}?").format(name=close[0]) if close else ""
        raise AnlError(_("no secret named {name!r}{hint}").format(name=name, hint=hint), file=str(paths.vault), key=name,
                       expected=_("one of: {values}").format(values=", ".join(sorted(values)) or _("(no secret yet)")))
    return str(values[name])
