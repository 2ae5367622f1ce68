from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.notifications.smtp_sink import SmtpSink


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()
