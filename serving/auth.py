"""Who is calling: bearer API keys from the settings, compared in constant time.

The admin key may do everything; a user key reads, chats and gives feedback only as the
user it is mapped to. With no key configured (the local demo) every caller on this
machine is admin and every other caller is refused, so a demo never leaks off the host.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from serving.settings import ApiSettings

bearer = HTTPBearer(auto_error=False, description="An admin key or a user key from the ShiftRec settings.")


@dataclass(frozen=True)
class Principal:
    """The caller: admin (any user) or one user."""

    admin: bool
    user: str | None = None

    def may_act_as(self, user: str) -> bool:
        return self.admin or self.user == user


class KeyRing:
    """The configured keys; :meth:`identify` checks every key so timing says nothing about which matched."""

    def __init__(self, settings: ApiSettings):
        self.open_mode = settings.open_mode
        admin = settings.admin_key.get_secret_value() if settings.admin_key else None
        self._keys: list[tuple[bytes, Principal]] = [(key.encode(), Principal(admin=False, user=user))
                                                     for key, user in settings.user_keys.items()]
        if admin is not None:
            self._keys.append((admin.encode(), Principal(admin=True)))

    def identify(self, presented: str) -> Principal | None:
        found = None
        candidate = presented.encode()
        for key, principal in self._keys:
            if hmac.compare_digest(candidate, key):
                found = principal
        return found


def is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    """The caller of this request, or 401/403 with what to do about it."""
    keys: KeyRing = request.app.state.keys
    if keys.open_mode:
        if not is_loopback(request.client.host if request.client else None):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                "no API keys are configured, so only clients on this machine are served: set "
                "SHIFTREC_API__ADMIN_KEY (and SHIFTREC_API__USER_KEYS) to serve other hosts",
            )
        return Principal(admin=True)
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "missing API key: send 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = keys.identify(credentials.credentials)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "unknown API key: use the admin key or a user key from the settings",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


CallerDep = Annotated[Principal, Depends(current_principal)]


def require_admin(principal: CallerDep) -> Principal:
    if not principal.admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this needs the admin key; a user key reads and chats only")
    return principal


def require_user_access(user: Annotated[str, Path(min_length=1, max_length=256)], principal: CallerDep) -> str:
    """The path's ``user``, when the caller may act as them."""
    check_user_access(principal, user)
    return user


def check_user_access(principal: Principal, user: str) -> None:
    if not principal.may_act_as(user):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"this key belongs to another user and cannot act as {user!r}"
        )


AdminDep = Annotated[Principal, Depends(require_admin)]
UserDep = Annotated[str, Depends(require_user_access)]
