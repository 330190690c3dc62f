"""A real machine on a real port: runs only with ``--serial-port=PATH`` (the ``serial_port``
fixture of the shared test set-up), skipped otherwise."""

from __future__ import annotations

import time

import pytest

from device_bridge import open_device

pytestmark = pytest.mark.serial_hardware


def test_real_machine_handshakes_and_streams_without_loss(serial_port):
    with open_device(serial_port) as bridge:
        assert bridge.wait_ready(5.0), bridge.status().message
        hello = bridge.hello
        assert hello.serial and hello.protocol[0] == 1
        assert {"angle", "force"} <= {c.name for c in hello.channels}
        assert bridge.ping() < 0.1
        time.sleep(3.0)
        st = bridge.status()
        assert st.state == "ok"
        assert st.rate_hz == pytest.approx(hello.rate_hz, rel=0.02)
        assert (st.seq_gaps, st.crc_errors) == (0, 0)
