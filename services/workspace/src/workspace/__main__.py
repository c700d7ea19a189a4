"""`python -m workspace`: run the service alone (migrations are applied at start)."""

from shared.entrypoint import serve
from shared.settings import load_settings
from workspace.settings import WorkspaceSettings

if __name__ == "__main__":
    serve("workspace.app:create_app", load_settings(WorkspaceSettings))
