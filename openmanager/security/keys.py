"""API keys and users in the metadata store; a key is shown once and stored as its SHA-256 digest.

Keys are 256-bit random tokens, so a fast digest is enough (no password stretching needed) and
verifying one costs a dictionary lookup once cached.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from openmanager.errors import Conflict, InvalidInput, NotFound
from openmanager.meta.db import MetaDB
from openmanager.meta.models import ApiKeyRow, User
from openmanager.security.roles import Role, allows, check_role

KEY_PREFIX = "om_"


@dataclass(frozen=True)
class Principal:
    """Who a verified key belongs to."""

    key_id: int
    name: str
    role: Role
    user: str


@dataclass(frozen=True)
class KeyInfo:
    """A key as listed (never its secret)."""

    id: int
    name: str
    prefix: str
    role: str
    user: str
    created_at: float
    expires_at: float | None
    revoked_at: float | None

    def state(self, now: float) -> str:
        """`active`, `expired` or `revoked`."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


def digest(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


def _role(value: str) -> Role:
    try:
        return check_role(value)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


class KeyStore:
    """Creates, lists, revokes and verifies API keys; manages users."""

    def __init__(self, db: MetaDB, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock
        self.revision = 0
        """Bumped on every revocation or user change, so verification caches of this process
        drop what they know at once (other instances within `security.key_cache_ttl`)."""

    # users
    def add_user(self, name: str, role: str) -> None:
        if not name.strip():
            raise InvalidInput("a user needs a name")

        def work() -> None:
            with self.db.session() as ses, ses.begin():
                ses.add(User(name=name, role=_role(role), created_at=self.clock(), disabled=False))

        try:
            self.db.retry.call(work)
        except IntegrityError:
            raise Conflict(f"user {name!r} exists already") from None

    def users(self) -> list[dict[str, object]]:
        def read() -> Sequence[User]:
            with self.db.session() as ses:
                return ses.scalars(select(User).order_by(User.name)).all()

        rows = self.db.retry.once(read)
        return [
            {"name": u.name, "role": u.role, "disabled": u.disabled, "created_at": u.created_at}
            for u in rows
        ]

    def set_user_disabled(self, name: str, disabled: bool) -> None:
        def work() -> None:
            with self.db.session() as ses, ses.begin():
                user = ses.scalar(select(User).where(User.name == name))
                if user is None:
                    raise NotFound(f"no user {name!r}")
                user.disabled = disabled

        self.db.retry.call(work)
        self.revision += 1

    # keys
    def create(
        self, name: str, role: str, *, user: str = "", ttl_s: float | None = None
    ) -> tuple[str, KeyInfo]:
        """A new key (its secret returned this once) with `role`, optionally owned by `user`."""
        wanted = _role(role)
        if ttl_s is not None and ttl_s <= 0:
            raise InvalidInput("a key's lifetime must be positive")
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        now = self.clock()

        def work() -> KeyInfo:
            with self.db.session() as ses, ses.begin():
                return self._insert(ses, secret, name, wanted, user, now, ttl_s)

        return secret, self.db.retry.call(work)

    def _insert(
        self,
        ses: Session,
        secret: str,
        name: str,
        wanted: Role,
        user: str,
        now: float,
        ttl_s: float | None,
    ) -> KeyInfo:
        """Add the key row (checking its owner) in the caller's transaction."""
        user_id = None
        if user:
            owner = ses.scalar(select(User).where(User.name == user))
            if owner is None:
                raise NotFound(f"no user {user!r} (add it with `openmanager users add`)")
            if not allows(owner.role, wanted):
                raise InvalidInput(f"user {user!r} is {owner.role}; a key cannot be {wanted}")
            user_id = owner.id
        row = ApiKeyRow(
            name=name or "key",
            prefix=secret[:12],
            digest=digest(secret),
            role=wanted,
            user_id=user_id,
            created_at=now,
            expires_at=None if ttl_s is None else now + ttl_s,
        )
        ses.add(row)
        ses.flush()
        return self._info(row, user)

    @staticmethod
    def _info(row: ApiKeyRow, user: str) -> KeyInfo:
        return KeyInfo(
            row.id,
            row.name,
            row.prefix,
            row.role,
            user,
            row.created_at,
            row.expires_at,
            row.revoked_at,
        )

    def list(self) -> list[KeyInfo]:
        query = select(ApiKeyRow, User.name).outerjoin(User, ApiKeyRow.user_id == User.id)

        def read() -> list[KeyInfo]:
            with self.db.session() as ses:
                rows = ses.execute(query.order_by(ApiKeyRow.id)).all()
            return [self._info(row, user or "") for row, user in rows]

        return self.db.retry.once(read)

    def revoke(self, ident: str) -> KeyInfo:
        """Revoke the key with this id or prefix."""
        cond = ApiKeyRow.prefix == ident
        if ident.isdigit():
            cond = or_(cond, ApiKeyRow.id == int(ident))

        def work() -> KeyInfo:
            with self.db.session() as ses, ses.begin():
                found = ses.scalars(select(ApiKeyRow).where(cond)).all()
                if not found:
                    raise NotFound(f"no API key {ident!r}")
                if len(found) > 1:
                    raise InvalidInput(f"{ident!r} matches {len(found)} keys; give the id")
                row = found[0]
                if row.revoked_at is None:
                    row.revoked_at = self.clock()
                return self._info(row, "")

        info = self.db.retry.call(work)
        self.revision += 1
        return info

    def verify(self, secret: str) -> Principal | None:
        """The principal of a valid, unexpired, unrevoked key of an enabled user; else None."""
        if not secret.startswith(KEY_PREFIX):
            return None
        query = (
            select(ApiKeyRow, User)
            .outerjoin(User, ApiKeyRow.user_id == User.id)
            .where(ApiKeyRow.digest == digest(secret))
        )

        def read() -> Any:
            with self.db.session() as ses:
                return ses.execute(query).first()

        found = self.db.retry.once(read)
        if found is None:
            return None
        row, user = found
        info = self._info(row, "")
        if info.state(self.clock()) != "active" or (user is not None and user.disabled):
            return None
        return Principal(row.id, row.name, check_role(row.role), user.name if user else "")
