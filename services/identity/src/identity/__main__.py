"""`python -m identity`: run the service alone (migrations are applied at start)."""

from identity.settings import IdentitySettings
from shared.entrypoint import serve

if __name__ == "__main__":
    serve("identity.app:create_app", IdentitySettings())
