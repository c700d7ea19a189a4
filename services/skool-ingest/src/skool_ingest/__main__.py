"""`python -m skool_ingest`: run the service alone (migrations are applied at start)."""

from shared.entrypoint import serve
from shared.settings import load_settings
from skool_ingest.settings import SkoolIngestSettings

if __name__ == "__main__":
    serve("skool_ingest.app:create_app", load_settings(SkoolIngestSettings))
