"""The machine link: open serial protocol, reader thread, simulator. pyserial stays inside."""

from device_bridge.bridge import DEFAULT_BAUD, DeviceBridge
from device_bridge.errors import (
    ChecksumError,
    CommandRejected,
    CommandTimeout,
    DeviceError,
    DeviceNotFound,
    DeviceSpecError,
    Disconnected,
    HandshakeRefused,
    NotConnected,
    ProtocolError,
    UnsupportedProtocol,
)
from device_bridge.factory import open_device, probe
from device_bridge.protocol import Channel, Hello
from device_bridge.samples import BridgeStatus, DeviceSample, SafetyEvent, SafetyLimits

__all__ = [
    "DEFAULT_BAUD",
    "BridgeStatus",
    "Channel",
    "ChecksumError",
    "CommandRejected",
    "CommandTimeout",
    "DeviceBridge",
    "DeviceError",
    "DeviceNotFound",
    "DeviceSample",
    "DeviceSpecError",
    "Disconnected",
    "HandshakeRefused",
    "Hello",
    "NotConnected",
    "ProtocolError",
    "SafetyEvent",
    "SafetyLimits",
    "UnsupportedProtocol",
    "open_device",
    "probe",
]
