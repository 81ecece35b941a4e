"""The keys the tests sign with, in one place. None of them is a real Upbit key."""

from __future__ import annotations

TEST_ACCESS_KEY = "test-access-key-0123456789"
TEST_SECRET_KEY = "test-secret-KEEP-OUT-OF-LOGS-0123456789abcdef"
# A second, valid-looking secret that the sandbox does not pair with the access key in use.
OTHER_SECRET = "a-different-secret-that-is-long-enough-for-hs512-0123456789abcdef0123"
