"""FaceMirror: facial midline mirroring for facial palsy assessment."""
import os as _os

# Privacy, before any library is imported: nothing leaves the machine and nothing is kept about it.
# ONNX Runtime 1.32 otherwise keeps a device ID and queues telemetry events (OS, CPU, memory, Python
# path) in ~/.cache/Microsoft/DeveloperTools/.onnxruntime. Only this variable, set before the first
# `import onnxruntime`, stops it (ORT_TELEMETRY_DISABLED and disable_telemetry_events() still write
# the device ID). Ray (the optional cluster extra) collects usage statistics unless told not to.
# Every entry point (main.py, the frozen app's hooks, bench, tests) imports this package first.
PRIVACY_ENV = {"ORT_DISABLE_TELEMETRY": "1", "RAY_USAGE_STATS_ENABLED": "0"}
_os.environ.update(PRIVACY_ENV)

__version__ = "0.1.0"
APP_NAME = "FaceMirror"
