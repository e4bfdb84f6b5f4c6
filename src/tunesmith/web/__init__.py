"""The web studio: a FastAPI app with one page to generate, hear, see and download melodies."""

from tunesmith.web.app import create_app

__all__ = ["create_app"]
