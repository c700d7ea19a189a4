"""`python -m billing`: run the service alone (migrations are applied at start)."""

from billing.settings import BillingSettings
from shared.entrypoint import serve
from shared.settings import load_settings

if __name__ == "__main__":
    serve("billing.app:create_served_app", load_settings(BillingSettings))
