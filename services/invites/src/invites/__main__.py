"""`python -m invites`: run the service alone (migrations are applied at start)."""

from invites.settings import InvitesSettings
from shared.entrypoint import serve
from shared.settings import load_settings

if __name__ == "__main__":
    serve("invites.app:create_app", load_settings(InvitesSettings))
