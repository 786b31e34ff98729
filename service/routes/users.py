from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field

from search import ratings, recommend
from search.movies import MovieNotFound
from service.deps import EsDep, NamesDep, WriteAccess
from service.errors import not_found
from service.schemas import UserRecommendationResponse

router = APIRouter(prefix="/users", tags=["users"])

UserId = Annotated[int, Path(ge=1, le=2**31 - 1, description="pseudonymous user id", examples=[1])]


class RatingIn(BaseModel):
    movie_id: int = Field(ge=1, le=2**31 - 1, examples=[1])
    rating: float = Field(ge=0.5, le=5.0, examples=[4.5], description="0.5 to 5.0 stars")


class RatingOut(BaseModel):
    user_id: int
    movie_id: int
    rating: float
    num_ratings: int = Field(description="the user's ratings now, this one included")
    vector_source: str = Field(description="`fold-in`: the user vector was recomputed from every rating")
    model_version: str


@router.get("/{user_id}/recommendations", response_model=UserRecommendationResponse)
async def user_recommendations(
    es: EsDep, names: NamesDep, user_id: UserId, k: Annotated[int, Query(ge=1, le=100)] = 10
) -> UserRecommendationResponse:
    """kNN with the user's vector, rated movies excluded; popular movies for a user without a vector."""
    recs, source = await recommend.for_user(es, names, user_id, k=k)
    return UserRecommendationResponse(user_id=user_id, source=source, recommendations=recs)


@router.post("/{user_id}/ratings", response_model=RatingOut, dependencies=[WriteAccess])
async def rate_movie(request: Request, es: EsDep, names: NamesDep, user_id: UserId, body: RatingIn) -> RatingOut:
    """Store a rating and fold it into the user's vector at once: the next recommendations reflect it."""
    try:
        model = await request.app.state.models.current(es, names)
        result = await ratings.add_rating(es, names, model, user_id, body.movie_id, body.rating)
    except MovieNotFound as exc:
        raise not_found(f"no movie with id {body.movie_id}") from exc
    except ratings.ModelUnavailable as exc:
        raise HTTPException(status_code=503, detail=str(exc)) from exc
    except ratings.RatingConflict as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from exc
    return RatingOut(
        user_id=result.user_id,
        movie_id=result.movie_id,
        rating=result.rating,
        num_ratings=result.num_ratings,
        vector_source=result.vector_source,
        model_version=result.model_version,
    )
