"""`python -m skool_ingest`: run the service alone (migrations are applied at start)."""

from shared.entrypoint import serve
from skool_ingest.settings import SkoolIngestSettings

if __name__ == "__main__":
    serve("skool_ingest.app:create_app", SkoolIngestSettings())
