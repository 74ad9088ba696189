"""Longer runs of the crash, race and fuzz tests, outside `make test`: run `make stress`.

Each takes minutes on two cores. They use the same checks as the quick versions in tests/,
with more rounds, clients and examples.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from .. import test_fuzz
from ..conftest import DaemonFactory
from ..test_crash import kill_during_writes
from ..test_races import race_writers

pytestmark = pytest.mark.stress

# The fuzz tests need their module's daemon fixture under the same name.
target = test_fuzz.target
LONG_FUZZ = settings(test_fuzz.EXAMPLES, max_examples=5000)


# These runs create far more tokens per account than the default cap allows.
MANY_TOKENS = 1_000_000


def test_two_hundred_sigkills(daemon_factory: DaemonFactory) -> None:
    daemon = daemon_factory(max_tokens_per_account=MANY_TOKENS)
    kill_during_writes(daemon, rounds=200, seed=7)


def test_fifty_concurrent_writers(daemon_factory: DaemonFactory) -> None:
    daemon = daemon_factory(max_tokens_per_account=MANY_TOKENS)
    race_writers(daemon, clients=50, calls=200, seed=5000)


# Hypothesis refuses a second settings decorator, so the undecorated tests are wrapped anew.
test_any_params_long = LONG_FUZZ(
    given(call=test_fuzz.calls())(
        test_fuzz.test_any_params_get_wellformed_reply.hypothesis.inner_test  # type: ignore[attr-defined]
    )
)
test_any_document_long = LONG_FUZZ(
    given(document=test_fuzz.documents)(
        test_fuzz.test_any_document_gets_wellformed_reply.hypothesis.inner_test  # type: ignore[attr-defined]
    )
)
