"""``pyrostage web``: the page for phones, its address and a QR code to join with."""

from __future__ import annotations

import logging
import os
from typing import Any

import click

from engine.cli.app import ERRORS, console, controller, fail, main, ns_options, setup_logging

log = logging.getLogger("engine.cli")
TOKEN_ENV = "PYROSTAGE_WEB_TOKEN"


@main.command()
@click.option("--host", help="Address to serve on (default 127.0.0.1: this machine only; "
                             "'auto' or 0.0.0.0: the LAN, then set a token).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default 8080).")
@click.option("--token", envvar=TOKEN_ENV, show_envvar=True,
              help="The token phones enter once; API clients send it as a Bearer token. "
                   "Prefer the environment variable or [web] token (ps shows arguments).")
@ns_options
@click.option("--presets", type=click.Path(dir_okay=False), help="The presets file.")
@click.option("--no-qr", is_flag=True, help="Print the address without the QR code.")
@click.option("-v", "--verbose", is_flag=True, help="Log every request (tokens are cut).")
def web(host: str | None, port: int | None, token: str | None, ns_host: str | None,
        ns_port: int | None, presets: str | None, no_qr: bool, verbose: bool) -> None:
    """Serve the web page for phones and laptops (and its JSON API) until Ctrl-C."""
    setup_logging(verbose)
    web_app, host_, port_ = build(host, port, token, ns_host, ns_port, presets)
    from engine.base.notify import notify
    from engine.web.server import run

    announce(web_app.share_url, web_app.token, host_, qr=not no_qr)
    try:
        run(web_app, host_, port_, access_log=verbose,
            ready=lambda: notify("READY=1", f"STATUS=serving {web_app.share_url}"))
    except OSError as exc:
        raise fail(OSError(f"cannot serve on {host_}:{port_}: {exc.strerror or exc}")) from None


def build(host: str | None, port: int | None, token: str | None, ns_host: str | None,
          ns_port: int | None, presets: str | None, source: str = "web") -> tuple[Any, str, int]:
    """The ``Web`` to serve and where: flags over the config file's [web] section."""
    from engine.base.config import load

    try:
        import engine.web.app as webapp
        from engine.base.pyroconf import lan_address
        from engine.web.auth import check_token
        from engine.web.qr import share_url
    except ImportError as exc:
        raise click.ClickException(
            f"the web page needs its extra: pip install 'pyrostage[web]' ({exc.name} is "
            "missing)") from None
    try:
        cfg = load(None)
        token = check_token(token if token is not None else cfg.web_token)
    except ERRORS as exc:
        raise fail(exc) from None
    host = host or cfg.web_host
    port = port or cfg.web_port
    ns_host = ns_host or cfg.ns_host
    ns_port = ns_port or cfg.ns_port
    if host == "auto":
        host = lan_address(ns_host, ns_port)
    ctl = controller(ns_host, ns_port, source)
    web = webapp.Web(ctl, share_url(host, port, ns_host, ns_port), token,
                     presets=None if presets is None else _path(presets))
    return web, host, port


def _path(value: str) -> Any:
    from pathlib import Path

    return Path(value)


def announce(url: str, token: str | None, host: str, qr: bool = True) -> None:
    """The address (and QR) for the organiser's terminal; the QR carries the token."""
    from engine.web.qr import join_url, terminal

    link = join_url(url, token)
    if qr:
        click.echo(terminal(link), nl=False)
    out = console()
    out.print(f"[bold]pyrostage web[/bold]: open [bold]{url}[/bold] on a phone or laptop"
              + (" (scan the code: it logs the phone in)" if token and qr else ""),
              soft_wrap=True, highlight=False)
    if token:
        click.echo("The page asks for the token once; API clients send "
                   "'Authorization: Bearer <token>'.")
    elif host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"warning: serving on {host} without a token: anyone on this network can "
                   f"change the screens; set {TOKEN_ENV} or [web] token", err=True)
    if os.environ.get(TOKEN_ENV) is None and token:
        log.debug("token from the command line or config file")
