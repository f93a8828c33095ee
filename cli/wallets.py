"""Wallet keystore files under $AGORA_HOME/keys/<name>.json, and NAME|ADDRESS resolution."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from cli.errors import CliError

if TYPE_CHECKING:
    from chain.keys import PrivateKey

KEYS_DIR: Final = "keys"
_NAME_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True, slots=True)
class Wallet:
    """A wallet's public facts (no password needed)."""

    name: str
    address: str
    path: Path


def keys_dir(home: Path) -> Path:
    """The directory holding the wallet keystore files of ``home``."""
    return home / KEYS_DIR


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid wallet name (1-64 of A-Z a-z 0-9 _ . -, not starting with . _ -)."""
    if not _NAME_RE.fullmatch(name):
        raise CliError(
            f"bad wallet name {name!r}: use 1-64 letters, digits, '_', '.' or '-', starting with a letter/digit"
        )
    return name


def wallet_path(home: Path, name: str) -> Path:
    """The keystore file of wallet ``name``."""
    return keys_dir(home) / f"{check_name(name)}.json"


def create_wallet(home: Path, name: str, password: str, key: PrivateKey | None = None) -> Wallet:
    """Encrypt a new (or the given) key as wallet ``name``; CliError if the name is taken."""
    from chain.address import encode_address
    from chain.keys import PrivateKey
    from node.keystore import save_key

    path = wallet_path(home, name)
    if path.exists():
        raise CliError(f"a wallet named {name!r} already exists ({path})")
    key = key or PrivateKey.generate()
    try:
        keys_dir(home).mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create {keys_dir(home)}: {exc.strerror}") from None
    save_key(path, key, password, name)
    return Wallet(name, encode_address(key.public_key), path)


def show_wallet(home: Path, name: str) -> Wallet:
    """The public facts of wallet ``name``; CliError if there is no such wallet."""
    from node.keystore import read_key_info

    path = wallet_path(home, name)
    if not path.exists():
        raise CliError(f"no wallet named {name!r} in {keys_dir(home)} (see `agora wallet list`)")
    info = read_key_info(path)
    return Wallet(name, info.address, path)


def list_wallets(home: Path) -> tuple[list[Wallet], list[str]]:
    """All readable wallets sorted by name, and one problem line per unreadable file."""
    from node.keystore import KeystoreError, read_key_info

    wallets: list[Wallet] = []
    problems: list[str] = []
    directory = keys_dir(home)
    if not directory.is_dir():
        return wallets, problems
    for path in sorted(directory.glob("*.json")):
        try:
            info = read_key_info(path)
        except KeystoreError as exc:
            problems.append(str(exc))
            continue
        wallets.append(Wallet(path.stem, info.address, path))
    return wallets, problems


def wallet_names(home: Path) -> dict[str, str]:
    """Address -> wallet name for every readable wallet of ``home`` (empty if there are none)."""
    wallets, _ = list_wallets(home)
    return {w.address: w.name for w in wallets}


def load_wallet_key(home: Path, name: str, password: str) -> PrivateKey:
    """Decrypt wallet ``name``; KeystoreError('wrong password') if the password is wrong."""
    from node.keystore import load_key

    show_wallet(home, name)
    return load_key(wallet_path(home, name), password)


def resolve_account(home: Path, text: str) -> str:
    """Return the agora1... address named by ``text``: an address, a 64-hex public key or a wallet name.

    Raises AddressError for text that looks like an address but is not a valid one.
    """
    from chain.address import HRP, encode_address, parse_account

    if text.lower().startswith(HRP + "1") or len(text) == 64:
        return encode_address(parse_account(text))
    if _NAME_RE.fullmatch(text) and wallet_path(home, text).exists():
        return show_wallet(home, text).address
    raise CliError(f"{text!r} is neither an agora1... address nor a wallet in {keys_dir(home)}")
