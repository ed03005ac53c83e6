"""The web session: an opaque random id in a signed cookie (itsdangerous, no crypto of
ours). The id names the conversation (web:<site>:<id>); the cookie holds nothing else."""

from __future__ import annotations

import secrets

from itsdangerous import BadSignature, Signer

COOKIE = "iijbot_web"
ID_BYTES = 18  # 144 random bits: never guessed, short enough for a Redis key
_SALT = "iijbot-web-session"


class SessionCookies:
    def __init__(self, secret: str) -> None:
        self._signer = Signer(secret, salt=_SALT)

    def new_id(self) -> str:
        return secrets.token_urlsafe(ID_BYTES)

    def dump(self, session_id: str) -> str:
        return self._signer.sign(session_id).decode()

    def load(self, cookie: str | None) -> str | None:
        """The id a cookie carries; None when absent, forged or not ours."""
        if not cookie:
            return None
        try:
            value = self._signer.unsign(cookie).decode()
        except (BadSignature, UnicodeDecodeError):
            return None
        return value if 0 < len(value) <= 64 else None
