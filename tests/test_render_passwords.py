"""Fake RandomPassword results of the offline render."""

from __future__ import annotations

import pytest

from render.engine import fake_password

URN = "random:index/randomPassword:RandomPassword::kitestacks-secrets-kavita-token-key"


@pytest.mark.parametrize("length", [16, 32, 64, 65, 128])
def test_fake_password_has_requested_length(length: int) -> None:
    assert len(fake_password(URN, length)) == length


def test_fake_password_extends_shorter_one() -> None:
    assert fake_password(URN, 128)[:64] == fake_password(URN, 64)
