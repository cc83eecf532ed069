"""Checks of the hello test plugin (run by `anl-stack verify hello`).

Each docstring: first line = what the check proves; `Hint:` = how to repair.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

TOKEN_FILE = "/etc/nginx/snippets/hello-token.conf"


def test_nginx_running(host: Any, anl_fact: Callable[[str, Any], None]) -> None:
    """nginx, which serves the hello site, is running and starts at boot.

    Hint: `systemctl enable --now nginx`; `nginx -t` names a configuration error.
    """
    nginx = host.service("nginx")
    assert nginx.is_running, "nginx is not running"
    assert nginx.is_enabled, "nginx is not enabled at boot"
    anl_fact("nginx", host.package("nginx").version)


@pytest.mark.app
def test_page_served_over_https(https_get: Callable[..., Any], plugin_vars: dict[str, Any],
                                anl_settings: dict[str, Any]) -> None:
    """The hello page answers over HTTPS at its domain with the commune's greeting.

    Hint: re-deploy hello (`anl-stack deploy hello`); `nginx -T` must show a server for the hello domain.
    """
    status, _, body = https_get(plugin_vars["hello_domain"])
    assert status == 200, f"HTTP {status} at https://{plugin_vars['hello_domain']}/"
    expected = f"{plugin_vars['hello_message']} {anl_settings['anl_commune']}"
    assert expected in body.decode("utf-8", "replace"), f"the page does not say {expected!r}"


def test_token_file_not_world_readable(host: Any) -> None:
    """The file holding the hello token is readable by root only.

    Hint: `chmod 600 /etc/nginx/snippets/hello-token.conf` (the hello role sets 0600; re-deploy to restore it).
    """
    token = host.file(TOKEN_FILE)
    assert token.exists, f"{TOKEN_FILE} is missing"
    assert token.mode & 0o077 == 0, f"{TOKEN_FILE} has mode {token.mode:04o} (group or others may read it)"
    assert token.user == "root", f"{TOKEN_FILE} belongs to {token.user}"


@pytest.mark.app
def test_private_page_needs_token(https_get: Callable[..., Any], plugin_vars: dict[str, Any],
                                  anl_secret: Callable[[str], Any]) -> None:
    """The private page refuses a request without the token and serves one with it.

    Hint: re-deploy hello; the token check lives in /etc/nginx/snippets/hello-token.conf.
    """
    domain = plugin_vars["hello_domain"]
    status, _, _ = https_get(domain, "/private/")
    assert status == 403, f"without the token: HTTP {status}, expected 403"
    status, _, _ = https_get(domain, "/private/", headers={"X-Hello-Token": anl_secret("hello_token")})
    assert status == 200, f"with the token: HTTP {status}, expected 200"


@pytest.mark.live
def test_reload_keeps_serving(host: Any, https_get: Callable[..., Any], plugin_vars: dict[str, Any]) -> None:
    """A reload of nginx (what a certificate renewal does) keeps the site up.

    Hint: `nginx -t` shows the error that a reload would hit; fix it and reload.
    """
    assert host.run("systemctl reload nginx").rc == 0, "systemctl reload nginx failed"
    status, _, _ = https_get(plugin_vars["hello_domain"])
    assert status == 200, f"after reload: HTTP {status}"
