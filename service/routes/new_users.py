"""`POST /users`: a fresh pseudonymous id for a new anonymous user (how: `movierec.search.pseudonyms`)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from movierec.search import pseudonyms
from movierec.search.indices import load_mapping
from movierec.service.deps import EsDep, NamesDep, WriteAccess

router = APIRouter(tags=["users"])


class NewUser(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"user_id": 1482913377, "num_ratings": 0}]}}

    user_id: int = Field(description="pseudonymous id, at least 1,000,000,000: never a MovieLens user's")
    num_ratings: int = 0


@router.post("/users", response_model=NewUser, status_code=201, dependencies=[WriteAccess])
async def create_user(es: EsDep, names: NamesDep) -> NewUser:
    """Hand out a fresh pseudonymous id (random, claimed with a conditional create); it holds nothing else."""
    user_id = await pseudonyms.new_user_id(es, names, mapping=load_mapping("pseudonyms", replicas=names.replicas))
    return NewUser(user_id=user_id)
