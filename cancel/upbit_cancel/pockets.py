"""Key pairs per pocket, and the clients they sign: from a keys file or the environment, never shown.

Upbit issues keys per pocket (sub-account), and a key lists and cancels only its own pocket's orders:
a sweep over several pockets (``connect_pockets``) or a guard's fire on a heartbeat's pocket
(``pocket_client``, the guard's one way to a pocket's client) needs that pocket's own key pair, and must
never sign one pocket's requests with another's key. Where a pocket's keys come from, first match wins
(the keys file's format, TOML with one table per pocket: the README's "Keys"):

1. the keys file, if one is named (``keys_file``, else ``$UPBIT_KEYS_FILE``): its ``[NAME]`` table, which
   must be there (a file that does not name the pocket is an error, never a reason to use another key);
2. the pocket's own variables (``pocket_variables``), both set;
3. for a run of one pocket only: the usual pair (``upbit_auth``'s), so ``--pocket NAME`` works as it always did.

The keys file is refused, as ssh refuses a private key, when its group or others may read or write it (it
must be mode 0600 or 0400), when another user owns it, or when it is not a regular file. No secret is ever
taken on the command line: the command takes the file's path only. A ``PocketKeys`` shows its access key
masked and its secret never (``repr``, ``str``, errors and logs alike); errors about the file name the
pocket and the field, never a value.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from upbit_auth import MissingCredentials, SecretKey, key_pair_from_env

from .errors import ConfigurationError
from .settings import KEYS_FILE_VARIABLE as KEYS_FILE_VARIABLE

if TYPE_CHECKING:
    from upbit_client import Client

    from .drivers import AnyClient

__all__ = [
    "KEYS_FILE_VARIABLE",
    "PocketKeys",
    "connect_pockets",
    "pocket_client",
    "pocket_keys",
    "pocket_variables",
    "pockets_keys",
]

_MAX_KEYS_FILE = 1024 * 1024
"""The largest keys file read (1 MiB): a pocket's two keys take under 200 bytes."""
_FIELDS = ("access_key", "secret_key")


def _masked(access_key: str) -> str:
    """The access key as shown anywhere: its first 4 characters of a real key's length, nothing of a short one."""
    return access_key[:4] + "…" if len(access_key) > 8 else "…"


@dataclass(frozen=True, slots=True, repr=False)
class PocketKeys:
    """One pocket's key pair and where it was read from (``source``: a file and table, or two variables)."""

    pocket: str
    access_key: str
    secret_key: SecretKey
    source: str

    def __repr__(self) -> str:
        return (
            f"PocketKeys(pocket={self.pocket!r}, access_key={_masked(self.access_key)!r}, "
            f"secret_key={self.secret_key!r}, source={self.source!r})"
        )

    __str__ = __repr__

    def __reduce__(self) -> str:
        raise TypeError("PocketKeys cannot be pickled")


def _check_name(pocket: object) -> str:
    """The rule ``connect(pocket=...)`` has always had: a non-blank string."""
    if not isinstance(pocket, str) or not pocket.strip():
        raise ConfigurationError(f"a pocket name must be a non-blank string; given: {pocket!r}")
    return pocket


def pocket_variables(pocket: str) -> tuple[str, str]:
    """The pocket's own access and secret key variables: ``UPBIT_POCKET_<NAME>_ACCESS_KEY`` and ``..._SECRET_KEY``."""
    stem = re.sub(r"[^A-Z0-9]", "_", _check_name(pocket).upper())
    return f"UPBIT_POCKET_{stem}_ACCESS_KEY", f"UPBIT_POCKET_{stem}_SECRET_KEY"


def _refuse_mode(path: str, info: os.stat_result) -> None:
    """``ConfigurationError`` for a keys file others could read or change, as ssh refuses a private key."""
    if not stat.S_ISREG(info.st_mode):
        raise ConfigurationError(f"keys file {path} is not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise ConfigurationError(
            f"keys file {path} has mode {mode:04o}, open to group or others; it needs 0600 or 0400 "
            f"(readable by its owner alone): chmod 600 {path}"
        )
    getuid = getattr(os, "getuid", None)
    if getuid is not None and info.st_uid != getuid():
        raise ConfigurationError(f"keys file {path} is owned by uid {info.st_uid}, not by this user ({getuid()})")


def read_keys_file(path: str) -> dict[str, Any]:
    """The keys file's tables, its mode and owner checked before a byte is read (``_refuse_mode``)."""
    try:
        # Non-blocking, so that a FIFO named as the keys file is refused rather than waited on.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        raise ConfigurationError(f"keys file {path} cannot be opened: {error.strerror or error}") from None
    try:
        _refuse_mode(path, os.fstat(descriptor))  # the file opened, not a name that may change under us
    except ConfigurationError:
        os.close(descriptor)
        raise
    with os.fdopen(descriptor, "rb") as handle:
        data = handle.read(_MAX_KEYS_FILE + 1)
    if len(data) > _MAX_KEYS_FILE:
        raise ConfigurationError(f"keys file {path} is over {_MAX_KEYS_FILE} bytes: not a keys file")
    try:
        # tomllib's messages name a line and column, never the text: no key can leak through them.
        return tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        detail = "not UTF-8" if isinstance(error, UnicodeDecodeError) else str(error)
        raise ConfigurationError(f"keys file {path} is not valid TOML: {detail}") from None


def _from_table(pocket: str, table: object, where: str) -> PocketKeys:
    """The pocket's keys from its table of the keys file; errors name fields, never values."""
    if not isinstance(table, dict):
        raise ConfigurationError(f"{where}: {pocket!r} must be a table ([{pocket}] with access_key and secret_key)")
    unknown = sorted(set(table) - set(_FIELDS))
    if unknown:
        raise ConfigurationError(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}; it takes {_FIELDS}")
    values = []
    for name in _FIELDS:
        value = table.get(name)
        if not isinstance(value, str) or not value.strip():
            given = "nothing" if value is None else f"a {type(value).__name__}" if not isinstance(value, str) else "''"
            raise ConfigurationError(f"{where}: {name} must be a non-empty string; given: {given}")
        values.append(value.strip())
    return PocketKeys(pocket, values[0], SecretKey(values[1]), where)


def _from_file(pocket: str, path: str) -> PocketKeys:
    tables = read_keys_file(path)
    if pocket not in tables:
        named = ", ".join(sorted(map(repr, tables))) or "none"
        raise MissingCredentials(f"keys file {path} has no [{pocket}] table (pockets in it: {named})")
    return _from_table(pocket, tables[pocket], f"keys file {path} [{pocket}]")


def _from_variables(pocket: str, env: Mapping[str, str]) -> PocketKeys | None:
    access_name, secret_name = pocket_variables(pocket)
    access, secret = env.get(access_name, "").strip(), env.get(secret_name, "").strip()
    if access and secret:
        return PocketKeys(pocket, access, SecretKey(secret), f"{access_name} and {secret_name}")
    if access or secret:
        found, missing = (access_name, secret_name) if access else (secret_name, access_name)
        raise MissingCredentials(f"pocket {pocket!r}: {found} is set but {missing} is not (set both)")
    return None


def pocket_keys(
    pocket: str, *, keys_file: str | None = None, environ: Mapping[str, str] | None = None, only: bool = True
) -> PocketKeys:
    """One pocket's key pair: the keys file's table, else the pocket's own variables, else (``only``: the
    run covers this pocket alone) the usual key variables. ``MissingCredentials`` when there is none;
    ``ConfigurationError`` for a keys file that is refused or malformed. Nothing is sent."""
    env = os.environ if environ is None else environ
    _check_name(pocket)
    path = keys_file or env.get(KEYS_FILE_VARIABLE) or None
    if path is not None:
        return _from_file(pocket, path)
    found = _from_variables(pocket, env)
    if found is not None:
        return found
    if not only:
        access_name, secret_name = pocket_variables(pocket)
        raise MissingCredentials(
            f"no keys for pocket {pocket!r}: name a keys file (--keys-file or ${KEYS_FILE_VARIABLE}) with a "
            f"[{pocket}] table, or set {access_name} and {secret_name}"
        )
    access, secret, names = key_pair_from_env(env)
    return PocketKeys(pocket, access, SecretKey(secret), " and ".join(names))


def pockets_keys(
    pockets: Sequence[str], *, keys_file: str | None = None, environ: Mapping[str, str] | None = None
) -> list[PocketKeys]:
    """Each named pocket's keys, in order, repeats dropped (``pocket_keys``; the usual variables only for one
    pocket). ``ConfigurationError`` when two pockets would share an access key: a key belongs to one pocket."""
    names = list(dict.fromkeys(_check_name(pocket) for pocket in pockets))
    if not names:
        raise ConfigurationError("name at least one pocket")
    found = [pocket_keys(name, keys_file=keys_file, environ=environ, only=len(names) == 1) for name in names]
    owners: dict[str, str] = {}
    for keys in found:
        other = owners.setdefault(keys.access_key, keys.pocket)
        if other != keys.pocket:
            raise ConfigurationError(
                f"pockets {other!r} and {keys.pocket!r} have the same access key ({_masked(keys.access_key)}): "
                "Upbit issues each key for one pocket"
            )
    return found


def connect_pockets(
    pockets: Sequence[str],
    base_url: str | None = None,
    *,
    keys_file: str | None = None,
    environ: Mapping[str, str] | None = None,
    **connect_keywords: Any,
) -> dict[str, AnyClient]:
    """One ``connect()`` client per pocket, each signed with that pocket's keys (``pockets_keys``) and paced
    as that pocket. ``connect_keywords`` go to every ``connect()``. Raises before anything is sent."""
    found = pockets_keys(pockets, keys_file=keys_file, environ=environ)
    return {keys.pocket: _connect(base_url, keys, environ, **connect_keywords) for keys in found}


def pocket_client(
    pocket: str | None, *, base_url: str | None = None, environ: Mapping[str, str] | None = None
) -> Client:
    """A ``connect()`` client for a heartbeat's ``pocket``, with that pocket's keys (``pocket_keys``); for no
    pocket, the usual key variables, in the pocket ``UPBIT_POCKET`` names, if any. ``MissingCredentials`` or
    ``ConfigurationError`` before anything is sent."""
    return _connect(base_url, None if pocket is None else pocket_keys(pocket, environ=environ), environ)


def _connect(
    base_url: str | None, keys: PocketKeys | None, environ: Mapping[str, str] | None, **keywords: Any
) -> Client:
    """``connect()`` signed with ``keys`` (None: the key variables ``connect()`` reads itself)."""
    from .client import connect  # here: reading keys loads neither httpx nor the client

    if keys is None:
        return connect(base_url, environ=environ, **keywords)
    secret_key = keys.secret_key.reveal()
    return connect(
        base_url, access_key=keys.access_key, secret_key=secret_key, pocket=keys.pocket, environ=environ, **keywords
    )
