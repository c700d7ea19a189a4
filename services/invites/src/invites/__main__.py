"""`python -m invites`: run the service alone (migrations are applied at start)."""

from invites.settings import InvitesSettings
from shared.entrypoint import serve

if __name__ == "__main__":
    serve("invites.app:create_app", InvitesSettings())
