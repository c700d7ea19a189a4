"""`python -m practice_app`: serve on 127.0.0.1:PRACTICE_APP_PORT (8010)."""

from __future__ import annotations

import uvicorn

from backbone_client.tokens import TokenVerifier
from practice_app.app import create_app
from practice_app.settings import Settings


def main() -> None:
    settings = Settings.from_env()
    uvicorn.run(create_app(settings, TokenVerifier.from_env()), host="127.0.0.1", port=settings.port)


if __name__ == "__main__":
    main()
