"""`python -m identity`: run the service alone (migrations are applied at start)."""

from identity.settings import IdentitySettings
from shared.entrypoint import serve
from shared.settings import load_settings

if __name__ == "__main__":
    serve("identity.app:create_app", load_settings(IdentitySettings))
