"""invites's routes: parse, call the domain, return a schema. No SQL, no commit here."""

from fastapi import APIRouter

router = APIRouter(prefix="/v1")
