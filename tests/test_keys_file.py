"""Keys per pocket (``upbit_cancel.pockets``): the keys file, the pockets' own variables, and the usual pair.

Guarantees under test (docs/guarantees.md, "Several pockets"): a keys file that group or others may read
is refused, naming the mode it has and the mode it needs, before anything is read; a pocket's keys never
come from another pocket; the usual pair serves a run of one pocket only; no key's value appears in any
``repr``, ``str``, error or log line.
"""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import pytest

from upbit_cancel import ConfigurationError, MissingCredentials, pocket_keys
from upbit_cancel.pockets import pocket_variables, pockets_keys

A_ACCESS = "pocket-a-access-key-0123456789"
A_SECRET = "pocket-a-SECRET-never-shown-0123456789abcdef0123456789abcdef"
B_ACCESS = "pocket-b-access-key-0123456789"
B_SECRET = "pocket-b-SECRET-never-shown-0123456789abcdef0123456789abcdef"
USUAL = {
    "UPBIT_OPEN_API_ACCESS_KEY": "usual-access-key-0123456789",
    "UPBIT_OPEN_API_SECRET_KEY": "usual-SECRET-0123456789abcdef",
}
ALL_VALUES = (A_ACCESS, A_SECRET, B_ACCESS, B_SECRET, USUAL["UPBIT_OPEN_API_SECRET_KEY"])


def keys_file(tmp_path: Path, text: str | None = None, mode: int = 0o600) -> str:
    path = tmp_path / "keys.toml"
    path.write_text(
        text
        if text is not None
        else f'[a]\naccess_key = "{A_ACCESS}"\nsecret_key = "{A_SECRET}"\n\n'
        f'[b]\naccess_key = "{B_ACCESS}"\nsecret_key = "{B_SECRET}"\n'
    )
    path.chmod(mode)
    return str(path)


def test_each_pocket_gets_its_own_table_of_the_keys_file(tmp_path: Path) -> None:
    path = keys_file(tmp_path)
    a, b = pockets_keys(["a", "b"], keys_file=path, environ={})
    assert (a.pocket, a.access_key, a.secret_key.reveal()) == ("a", A_ACCESS, A_SECRET)
    assert (b.pocket, b.access_key, b.secret_key.reveal()) == ("b", B_ACCESS, B_SECRET)
    assert a.source == f"keys file {path} [a]"


def test_the_keys_file_can_be_named_by_the_environment(tmp_path: Path) -> None:
    path = keys_file(tmp_path)
    assert pocket_keys("b", environ={"UPBIT_KEYS_FILE": path}).access_key == B_ACCESS


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o606, 0o620, 0o602, 0o700 | 0o004])
def test_a_keys_file_group_or_others_may_touch_is_refused_naming_its_mode_and_the_one_it_needs(
    tmp_path: Path, mode: int
) -> None:
    path = keys_file(tmp_path, mode=mode)
    with pytest.raises(ConfigurationError) as refused:
        pocket_keys("a", keys_file=path, environ={})
    message = str(refused.value)
    assert f"mode {mode:04o}" in message and "0600 or 0400" in message and f"chmod 600 {path}" in message
    assert not any(value in message for value in ALL_VALUES)


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_a_keys_file_its_owner_alone_may_read_is_accepted(tmp_path: Path, mode: int) -> None:
    assert pocket_keys("a", keys_file=keys_file(tmp_path, mode=mode), environ={}).access_key == A_ACCESS


def test_a_keys_file_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "keys.d"
    folder.mkdir(mode=0o700)
    with pytest.raises(ConfigurationError, match="not a regular file"):
        pocket_keys("a", keys_file=str(folder), environ={})


def test_a_missing_keys_file_is_named_in_the_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot be opened"):
        pocket_keys("a", keys_file=str(tmp_path / "nowhere.toml"), environ={})


def test_a_keys_file_that_does_not_name_the_pocket_never_falls_back_to_another_key(tmp_path: Path) -> None:
    with pytest.raises(MissingCredentials) as missing:
        pocket_keys("c", keys_file=keys_file(tmp_path), environ=USUAL)
    assert "no [c] table" in str(missing.value) and "'a', 'b'" in str(missing.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f'[a]\naccess_key = "{A_ACCESS}"\nsecret_key = {A_SECRET}\n', "not valid TOML"),
        (f'[a]\naccess_key = "{A_ACCESS}"\nsecret_key = "{A_SECRET}"\nsecret = "{A_SECRET}"\n', "unknown field"),
        (f'[a]\naccess_key = "{A_ACCESS}"\n', "secret_key must be a non-empty string; given: nothing"),
        (f'[a]\naccess_key = "{A_ACCESS}"\nsecret_key = 12345\n', "given: a int"),
        (f'[a]\naccess_key = "{A_ACCESS}"\nsecret_key = "  "\n', "given: ''"),
        (f'a = "{A_SECRET}"\n', "must be a table"),
        (b"\xff\xfe".decode("latin-1") + A_SECRET, "not valid TOML"),
    ],
)
def test_a_malformed_keys_file_is_refused_without_showing_any_value(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        pocket_keys("a", keys_file=keys_file(tmp_path, text), environ={})
    assert expected in str(refused.value)
    assert not any(value in str(refused.value) for value in ALL_VALUES)


def test_a_pocket_may_take_its_keys_from_variables_of_its_own() -> None:
    access_name, secret_name = pocket_variables("bot-a")
    assert (access_name, secret_name) == ("UPBIT_POCKET_BOT_A_ACCESS_KEY", "UPBIT_POCKET_BOT_A_SECRET_KEY")
    keys = pocket_keys("bot-a", environ={access_name: A_ACCESS, secret_name: A_SECRET, **USUAL})
    assert (keys.access_key, keys.secret_key.reveal()) == (A_ACCESS, A_SECRET)


def test_half_of_a_pockets_own_pair_is_an_error_naming_the_missing_variable() -> None:
    with pytest.raises(MissingCredentials, match="UPBIT_POCKET_A_SECRET_KEY"):
        pocket_keys("a", environ={"UPBIT_POCKET_A_ACCESS_KEY": A_ACCESS, **USUAL})


def test_one_pocket_alone_takes_the_usual_pair_as_it_always_did() -> None:
    keys = pocket_keys("main", environ=USUAL)
    assert keys.access_key == USUAL["UPBIT_OPEN_API_ACCESS_KEY"]
    assert keys.source == "UPBIT_OPEN_API_ACCESS_KEY and UPBIT_OPEN_API_SECRET_KEY"


def test_several_pockets_never_share_the_usual_pair() -> None:
    with pytest.raises(MissingCredentials) as missing:
        pockets_keys(["a", "b"], environ=USUAL)
    assert "no keys for pocket 'a'" in str(missing.value) and "--keys-file" in str(missing.value)


def test_two_pockets_with_one_access_key_are_refused(tmp_path: Path) -> None:
    a = f'[a]\naccess_key = "{A_ACCESS}"\nsecret_key = "{A_SECRET}"\n'
    text = a + f'[b]\naccess_key = "{A_ACCESS}"\nsecret_key = "{B_SECRET}"\n'
    with pytest.raises(ConfigurationError, match="same access key") as refused:
        pockets_keys(["a", "b"], keys_file=keys_file(tmp_path, text), environ={})
    assert A_ACCESS not in str(refused.value)


@pytest.mark.parametrize("name", ["", "  ", None, 7])
def test_a_bad_pocket_name_is_refused(name: object) -> None:
    with pytest.raises(ConfigurationError, match="pocket name"):
        pocket_keys(name, environ=USUAL)  # type: ignore[arg-type]


def test_the_redaction_table_no_key_value_shows_anywhere(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Every place a key could surface: repr, str, f-strings, logging, formatted errors, pickling."""
    caplog.set_level(logging.DEBUG)
    a = pocket_keys("a", keys_file=keys_file(tmp_path), environ={})
    shown = {
        "repr": repr(a),
        "str": str(a),
        "f-string": f"{a}",
        "secret repr": repr(a.secret_key),
        "list repr": repr([a]),
        "dict repr": repr({"a": a}),
    }
    logging.getLogger("upbit_cancel").warning("keys: %s %r", a, a)
    shown["log"] = caplog.text
    for where, text in shown.items():
        assert A_SECRET not in text, where
        assert A_ACCESS not in text, where
    assert "pock…" in shown["repr"]
    with pytest.raises(TypeError):
        pickle.dumps(a)


def test_a_guard_fires_on_a_pocket_with_that_pockets_own_keys_from_the_keys_file(tmp_path: Path) -> None:
    from upbit_cancel.pockets import pocket_client

    environ = {"UPBIT_KEYS_FILE": keys_file(tmp_path), **USUAL}
    clients = {pocket: pocket_client(pocket, environ=environ) for pocket in ("a", "b", None)}
    signed_by = {pocket: client.get_httpx_client().auth.access_key for pocket, client in clients.items()}  # type: ignore[union-attr]
    assert signed_by == {"a": A_ACCESS, "b": B_ACCESS, None: USUAL["UPBIT_OPEN_API_ACCESS_KEY"]}
    for client in clients.values():
        client.get_httpx_client().close()
