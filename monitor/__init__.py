"""leakmon: a model-repository leak monitor for the Hugging Face Hub."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("leakmon")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
