"""`python -m billing`: run the service alone (migrations are applied at start)."""

from billing.settings import BillingSettings
from shared.entrypoint import serve

if __name__ == "__main__":
    serve("billing.app:create_app", BillingSettings())
