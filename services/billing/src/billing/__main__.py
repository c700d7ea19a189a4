"""`python -m billing`: run the service alone (migrations are applied at start)."""

from shared.entrypoint import serve

from billing.settings import BillingSettings

if __name__ == "__main__":
    serve("billing.app:create_app", BillingSettings())
