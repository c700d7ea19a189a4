"""skool_ingest's tables (its own, beside the shared outbox and inbox).

They are written with set-based SQL statements (`service/`), so they are described where they
are created: migrations/versions/0004_deliveries_and_subscriptions.py — `skool_deliveries`,
`skool_subscriptions`, `skool_rejections`, `skool_accounts`, `welcome_emails`.
"""
