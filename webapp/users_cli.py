"""``vigil users add|list|passwd|set|disable|enable`` and ``vigil tokens ...``.

They work on the database of the settings (the embedded PostgreSQL is started when
``database_url`` is unset), migrate it first, and write audit rows with the actor
``cli:<login name>``. Passwords are read from the terminal (twice) or, with
``--password-stdin``, from one line of standard input; ``--generate`` prints a random
one once. A running ``vigil serve`` applies the change to live sockets at once
(NOTIFY on ``store.users.ACCESS_CHANNEL``).
"""

from __future__ import annotations

import getpass
import sys
from contextlib import contextmanager
from typing import Iterator

import click

from store.settings import Settings, local_time_text


@contextmanager
def _database(settings: Settings) -> Iterator:
    from store.db import connect, open_database
    from store.migrate import upgrade
    with open_database(settings) as url:
        upgrade(url, settings.migrations_dir,
                partitions_ahead_days=settings.partitions_ahead_days)
        with connect(url, autocommit=True) as conn:
            yield conn


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _password(name: str, from_stdin: bool, generate: bool) -> tuple[str, bool]:
    """A strong password from stdin, the terminal, or generated; (password, generated)."""
    from webapp.auth.bootstrap import new_password
    from webapp.auth.passwords import strength_problem
    if generate:
        return new_password(), True
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    problem = strength_problem(password, name)
    if problem:
        raise click.ClickException(f"password too weak: {problem}")
    return password, False


def _check_wards(conn, wards: list[str] | tuple[str, ...] | None) -> None:  # noqa: ANN001
    """ClickException naming each unknown ward id with close matches (a typo would give
    the user an empty map and no hint)."""
    from store.areas import unknown_wards
    problem = unknown_wards(conn, wards) if wards else None
    if problem:
        raise click.ClickException(problem)


def _wards(ward: tuple[str, ...], all_wards: bool) -> list[str] | None:
    if ward and all_wards:
        raise click.UsageError("--ward and --all-wards exclude each other")
    return list(ward) if ward else None


_password_options = [
    click.option("--password-stdin", is_flag=True, help="Read the password from stdin."),
    click.option("--generate", is_flag=True, help="Make a random password and print it."),
]


def _with_password_options(f):  # noqa: ANN001, ANN202
    for option in reversed(_password_options):
        f = option(f)
    return f


@click.group("users")
def users_group() -> None:
    """Users of the map application (roles, ward scope, passwords)."""


@users_group.command("add")
@click.argument("name")
@click.option("--role", required=True,
              type=click.Choice(["admin", "commander", "operator", "planner"]))
@click.option("--ward", multiple=True, help="Ward id in scope (repeat); none: every ward.")
@_with_password_options
@click.pass_obj
def users_add(settings: Settings, name: str, role: str, ward: tuple[str, ...],
              password_stdin: bool, generate: bool) -> None:
    """Create a user."""
    from store.audit import record
    from store.users import UserError, add_user
    from webapp.auth.passwords import hash_password
    with _database(settings) as conn:
        _check_wards(conn, ward)
        password, generated = _password(name, password_stdin, generate)
        try:
            with conn.transaction():
                add_user(conn, name, role, list(ward) or None, hash_password(password),
                         created_by=_actor())
                record(conn, _actor(), "user.add", name, detail={"role": role,
                                                                  "wards": list(ward) or None})
        except UserError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"user {name} ({role}, wards: {', '.join(ward) or 'all'}) added")
    if generated:
        click.echo(f"  password: {password}  (shown once)")


@users_group.command("list")
@click.pass_obj
def users_list(settings: Settings) -> None:
    """List users."""
    from store.users import list_users
    with _database(settings) as conn:
        users = list_users(conn)
    for u in users:
        last = local_time_text(u.last_login_at, settings.timezone)
        click.echo(f"{u.name:<24} {u.role:<10} {'disabled' if u.disabled else 'active':<9} "
                   f"wards={','.join(u.wards) if u.wards is not None else 'all'} last={last}")


def _change(settings: Settings, name: str, action: str, **changes) -> None:  # noqa: ANN003
    from store.audit import record
    from store.users import UserError, active_admins, get_user, update_user
    with _database(settings) as conn:
        _check_wards(conn, changes.get("wards"))
        try:
            with conn.transaction():
                before = get_user(conn, name)
                update_user(conn, name, **changes)
                if before is not None and before.role == "admin" and active_admins(conn) == 0:
                    raise click.ClickException("the last enabled admin cannot be disabled "
                                               "or demoted")
                record(conn, _actor(), action, name,
                       detail={k: v for k, v in changes.items() if k != "password_hash"})
        except UserError as exc:
            raise click.ClickException(str(exc)) from None


@users_group.command("passwd")
@click.argument("name")
@_with_password_options
@click.pass_obj
def users_passwd(settings: Settings, name: str, password_stdin: bool, generate: bool) -> None:
    """Set a user's password (their sessions end)."""
    from webapp.auth.passwords import hash_password
    password, generated = _password(name, password_stdin, generate)
    _change(settings, name, "user.password", password_hash=hash_password(password))
    click.echo(f"password of {name} changed")
    if generated:
        click.echo(f"  password: {password}  (shown once)")


@users_group.command("set")
@click.argument("name")
@click.option("--role", type=click.Choice(["admin", "commander", "operator", "planner"]))
@click.option("--ward", multiple=True, help="New ward scope (repeat).")
@click.option("--all-wards", is_flag=True, help="Every ward.")
@click.pass_obj
def users_set(settings: Settings, name: str, role: str | None, ward: tuple[str, ...],
              all_wards: bool) -> None:
    """Change a user's role or ward scope (live sessions follow)."""
    changes: dict = {"role": role}
    if ward or all_wards:
        changes["wards"] = _wards(ward, all_wards)
    _change(settings, name, "user.change", **changes)
    click.echo(f"user {name} changed")


def _disabled_command(verb: str, disabled: bool, help_text: str) -> click.Command:
    """``vigil users disable|enable NAME``: one command per value of the flag."""
    @users_group.command(verb, help=help_text)
    @click.argument("name")
    @click.pass_obj
    def command(settings: Settings, name: str) -> None:
        _change(settings, name, f"user.{verb}", disabled=disabled)
        click.echo(f"user {name} {verb}d")
    return command


users_disable = _disabled_command("disable", True,
                                  "Disable a user (their sessions and sockets end).")
users_enable = _disabled_command("enable", False, "Enable a disabled user again.")


@click.group("tokens")
def tokens_group() -> None:
    """Map-wall (kiosk) tokens and read-only API tokens."""


@tokens_group.command("list")
@click.pass_obj
def tokens_list(settings: Settings) -> None:
    """List API and kiosk tokens (never the tokens themselves)."""
    from store.users import list_api_tokens, list_kiosk_tokens
    with _database(settings) as conn:
        for t in list_api_tokens(conn):
            state = "revoked" if t["revoked_at"] else "live"
            click.echo(f"api   {t['id']:>4} {t['name']:<24} {state:<8} "
                       f"scopes={','.join(t['scopes'])} "
                       f"wards={','.join(t['wards']) if t['wards'] else 'all'}")
        for t in list_kiosk_tokens(conn):
            state = "revoked" if t["revoked_at"] else "live"
            click.echo(f"kiosk {t['key_prefix']} {t['name']:<24} {state}")


@tokens_group.command("add")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, required=True,
              type=click.Choice(["view", "plan", "evidence"]), help="Repeat for several.")
@click.option("--ward", multiple=True, help="Ward id in scope (repeat); none: every ward.")
@click.pass_obj
def tokens_add(settings: Settings, name: str, scopes: tuple[str, ...],
               ward: tuple[str, ...]) -> None:
    """Create a read-only API token for a machine client (printed once)."""
    import secrets

    from store.audit import record
    from store.users import UserError, add_api_token, token_key
    token = "vgt_" + secrets.token_urlsafe(32)
    with _database(settings) as conn:
        _check_wards(conn, ward)
        try:
            with conn.transaction():
                ident = add_api_token(conn, token_key(token), name, scopes, list(ward) or None,
                                      created_by=_actor())
                record(conn, _actor(), "token.add", ident,
                       detail={"name": name, "scopes": list(scopes)})
        except UserError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"API token {ident} ({name}): {token}  (shown once; send it as "
               "'Authorization: Bearer <token>')")


@tokens_group.command("revoke")
@click.argument("token_id", type=int)
@click.pass_obj
def tokens_revoke(settings: Settings, token_id: int) -> None:
    """Revoke an API token by id."""
    from store.audit import record
    from store.users import revoke_api_token
    with _database(settings) as conn:
        with conn.transaction():
            if not revoke_api_token(conn, token_id):
                raise click.ClickException(f"no live API token {token_id}")
            record(conn, _actor(), "token.revoke", token_id)
    click.echo(f"API token {token_id} revoked")


@tokens_group.command("kiosk-rotate")
@click.option("--name", default="wall", show_default=True)
@click.option("--ward", multiple=True, help="Ward id shown on this wall (repeat).")
@click.pass_obj
def kiosk_rotate(settings: Settings, name: str, ward: tuple[str, ...]) -> None:
    """Revoke the wall's kiosk token and print a new one (walls must reopen the URL)."""
    from webapp.auth.bootstrap import rotate_kiosk_token
    with _database(settings) as conn:
        _check_wards(conn, ward)
        token = rotate_kiosk_token(conn, name, list(ward) or None, actor=_actor())
    click.echo(f"map wall {name}: /wall?token={token}  (shown once)")


@tokens_group.command("kiosk-revoke")
@click.option("--name", default="wall", show_default=True)
@click.pass_obj
def kiosk_revoke(settings: Settings, name: str) -> None:
    """Revoke the wall's kiosk tokens (the wall is signed out)."""
    from store.audit import record
    from store.users import revoke_kiosk_tokens
    with _database(settings) as conn:
        with conn.transaction():
            n = revoke_kiosk_tokens(conn, name)
            record(conn, _actor(), "kiosk.revoke", name)
    click.echo(f"{n} kiosk token(s) named {name} revoked")
