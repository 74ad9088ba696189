"""The UAPI Tokens functions: create_full_access, list, rename and revoke.

Each function takes the identified caller and the call's named parameters and returns a
`UapiResult`. Function-level failures are raised as `UapiError`; the RPC layer turns them into
`status: 0` results. This module logs one line per state change, with key=value fields and
never a token value.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tokend_client import protocol
from tokend_client.protocol import NAME_RULE

from .accounts import Accounts
from .config import Config
from .errors import (
    AccessDeniedError,
    DuplicateNameError,
    InvalidParameterError,
    InvalidTokenError,
    MissingParameterError,
    NoSuchAccountError,
    UnknownParameterError,
)
from .hashing import Hasher
from .listing import ListView
from .names import check_name, parse_expires_at, scalar_text
from .store import LookupIdTakenError, Store, TokenRecord
from .verification import Verifier

logger = logging.getLogger(__name__)

Params = Mapping[str, object]
_LIST_KEY = re.compile(r"name-[0-9]{1,6}\Z")
_LOOKUP_ID_ATTEMPTS = 5
# Bounds the time one revoke holds the write lock, which every other account's writes wait for.
MAX_REVOKE_NAMES = 1000


@dataclass(frozen=True)
class Caller:
    """The local account on the other end of the socket, from its peer credentials."""

    uid: int
    account: str

    @property
    def is_root(self) -> bool:
        return self.uid == 0


@dataclass
class UapiResult:
    """A UAPI result object: `status` 1 with `data`, or `status` 0 with `errors`."""

    data: Any = None
    status: int = 1
    errors: list[str] | None = None
    messages: list[str] | None = None
    warnings: list[str] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def failure(cls, message: str) -> UapiResult:
        return cls(status=0, errors=[message])

    def to_json(self) -> dict[str, Any]:
        return {
            "data": self.data,
            "errors": self.errors,
            "messages": self.messages,
            "metadata": self.metadata,
            "status": self.status,
            "warnings": self.warnings,
        }


def list_entry(record: TokenRecord, now: int, expiring_soon_s: int) -> dict[str, Any]:
    """Return a token's `Tokens::list` entry as of `now`."""
    expires_at = record.expires_at
    expired = expires_at is not None and expires_at < now
    expiring_soon = expires_at is not None and not expired and expires_at - now < expiring_soon_s
    return {
        "name": record.name,
        "create_time": record.create_time,
        "expires_at": expires_at,
        "has_full_access": 1,
        "features": [],
        "expired": int(expired),
        "expiring_soon": int(expiring_soon),
    }


class TokenFunctions:
    """The Tokens module's functions over one store and one hasher."""

    def __init__(
        self,
        config: Config,
        store: Store,
        hasher: Hasher,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._store = store
        self._hasher = hasher
        self._clock = clock
        self.accounts = Accounts(config.account_cache_ttl_s)
        self.verifier = Verifier(config, store, hasher, self.accounts)

    def _now(self) -> int:
        return int(self._clock())

    async def create_full_access(self, caller: Caller, params: Params) -> UapiResult:
        """Create a token and return its value, the only time anyone sees it."""
        check_param_names(protocol.CREATE, params)
        account = resolve_account(caller, params, self.accounts)
        name = check_name("name", require(params, "name", NAME_RULE))
        now = self._now()
        expires_at = parse_expires_at(params["expires_at"], now) if "expires_at" in params else None

        # Checked again inside the write transaction; this early check saves an argon2 hash.
        if await self._store.has_name(account, name):
            raise DuplicateNameError(account, name)

        record = TokenRecord(name=name, create_time=now, expires_at=expires_at)
        for _ in range(_LOOKUP_ID_ATTEMPTS):
            token = await self._hasher.new_token()
            try:
                await self._store.insert(
                    account,
                    record,
                    token.lookup_id,
                    token.secret_hash,
                    self._config.max_tokens_per_account,
                )
            except LookupIdTakenError:
                continue
            break
        else:
            # 36**8 lookup ids make even one collision unlikely; five in a row means a broken
            # random source, which must not pass silently.
            raise RuntimeError("could not find a free lookup id")

        logger.info(
            "event=token_created account=%s name=%s expires_at=%s",
            account,
            name,
            expires_at if expires_at is not None else "never",
        )
        data = {"create_time": now, "token": token.value, "name": name, "expires_at": expires_at}
        return UapiResult(data=data)

    async def list(self, caller: Caller, params: Params) -> UapiResult:
        """List the account's tokens with their expiry state."""
        check_param_names(protocol.LIST, params)
        account = resolve_account(caller, params, self.accounts)
        view = ListView.from_params(params)
        now = self._now()
        records = await self._store.list_tokens(account)
        entries = [list_entry(record, now, self._config.expiring_soon_s) for record in records]
        data, metadata = view.apply(entries)
        return UapiResult(data=data, metadata=metadata)

    async def rename(self, caller: Caller, params: Params) -> UapiResult:
        """Rename a token, keeping its value, creation time and expiry."""
        check_param_names(protocol.RENAME, params)
        account = resolve_account(caller, params, self.accounts)
        name = check_name("name", require(params, "name", "the token's current name"))
        new_name = check_name("new_name", require(params, "new_name", NAME_RULE))
        await self._store.rename(account, name, new_name)
        if new_name != name:
            logger.info(
                "event=token_renamed account=%s name=%s new_name=%s", account, name, new_name
            )
        return UapiResult(data=None)

    async def revoke(self, caller: Caller, params: Params) -> UapiResult:
        """Revoke the named tokens in one transaction; a name that does not exist warns."""
        check_param_names(protocol.REVOKE, params)
        account = resolve_account(caller, params, self.accounts)
        names = revoke_names(params)
        removed = await self._store.revoke(account, names)

        for name in removed:
            logger.info("event=token_revoked account=%s name=%s", account, name)
        removed_set = set(removed)
        warnings = [
            f'The account "{account}" has no token named "{name}"; nothing was revoked '
            "under that name."
            for name in names
            if name not in removed_set
        ]
        return UapiResult(data=1, warnings=warnings or None, metadata={"revoked": removed})

    async def verify(self, caller: Caller, params: Params) -> UapiResult:
        """Check a presented token; return its list entry when it is valid and unexpired."""
        check_param_names(protocol.VERIFY, params)
        account = scalar_text("user", require(params, "user", "the token's account"), "an account")
        if account != caller.account and not caller.is_root:
            raise AccessDeniedError(caller.account, account)
        token = require(params, "token", "the 32-character token")
        if not isinstance(token, str):
            # The value is not echoed: it may be a real token sent with the wrong JSON type.
            raise InvalidTokenError
        stored = await self.verifier.verify(caller.uid, account, token)
        entry = list_entry(stored.record, self._now(), self._config.expiring_soon_s)
        return UapiResult(data=entry)


def check_param_names(function_name: str, params: Params) -> None:
    """Raise `UnknownParameterError` for any parameter the function does not take."""
    function = protocol.FUNCTIONS[function_name]
    accepted = [param.name for param in (*function.params, *function.generic_params)]
    unknown = [
        key
        for key in params
        if key not in accepted and not (function_name == protocol.REVOKE and _LIST_KEY.match(key))
    ]
    if unknown:
        raise UnknownParameterError(function.method, sorted(unknown), accepted)


def require(params: Params, name: str, rule: str) -> object:
    """Return a required parameter or raise `MissingParameterError`."""
    if name not in params:
        raise MissingParameterError(name, rule)
    return params[name]


def resolve_account(caller: Caller, params: Params, accounts: Accounts) -> str:
    """Return the account the call acts on: `api.user` if root gave it, else the caller's."""
    if protocol.API_USER not in params:
        return caller.account
    account = scalar_text(protocol.API_USER, params[protocol.API_USER], "use an account name")
    if account == caller.account:
        return account
    if not caller.is_root:
        raise AccessDeniedError(caller.account, account)
    if not account or "\0" in account:
        raise InvalidParameterError(protocol.API_USER, account, "use an account name")
    if not accounts.exists(account):
        raise NoSuchAccountError(account)
    return account


def revoke_names(params: Params) -> list[str]:
    """Collect the names to revoke from `name` (a value or an array) and `name-N` keys."""
    raw: list[object] = []
    if "name" in params:
        value = params["name"]
        raw.extend(value if isinstance(value, list) else [value])
    numbered = sorted((int(key[5:]), key) for key in params if _LIST_KEY.match(key))
    raw.extend(params[key] for _, key in numbered)
    if not raw:
        raise MissingParameterError("name", "give at least one token name to revoke")
    if len(raw) > MAX_REVOKE_NAMES:
        raise InvalidParameterError(
            "name",
            f"{len(raw)} names",
            f"one call revokes at most {MAX_REVOKE_NAMES} tokens; split the list",
        )

    names: list[str] = []
    for value in raw:
        name = check_name("name", value)
        if name not in names:
            names.append(name)
    return names
