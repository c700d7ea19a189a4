"""`python -m identity`: run the service alone (migrations are applied at start)."""

from shared.entrypoint import serve

from identity.settings import IdentitySettings

if __name__ == "__main__":
    serve("identity.app:create_app", IdentitySettings())
