"""`python -m invites`: run the service alone (migrations are applied at start)."""

from shared.entrypoint import serve

from invites.settings import InvitesSettings

if __name__ == "__main__":
    serve("invites.app:create_app", InvitesSettings())
