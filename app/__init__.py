"""FaceMirror: facial midline mirroring for facial palsy assessment."""

__version__ = "0.1.0"
APP_NAME = "FaceMirror"
