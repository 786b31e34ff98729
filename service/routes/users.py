from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from search import ratings, recommend
from search.indices import load_mapping
from search.movies import MovieNotFound
from service.deps import EsDep, NamesDep, SettingsDep, WriteAccess
from service.errors import not_found
from service.schemas import UserRecommendationResponse

router = APIRouter(prefix="/users", tags=["users"])

UserId = Annotated[int, Path(ge=1, le=2**31 - 1, description="pseudonymous user id", examples=[1])]
MovieId = Annotated[int, Path(ge=1, le=2**31 - 1, description="MovieLens movieId", examples=[1])]


class RatingIn(BaseModel):
    movie_id: int = Field(ge=1, le=2**31 - 1, examples=[1])
    rating: float = Field(ge=0.5, le=5.0, examples=[4.5], description="0.5 to 5.0 stars")


class RatingOut(BaseModel):
    user_id: int
    movie_id: int
    rating: float = Field(description="the rating stored, or the one deleted")
    deleted: bool = False
    num_ratings: int = Field(description="the user's ratings now")
    vector_source: str = Field(description="`fold-in`: recomputed from every rating; `none`: no rating left")
    model_version: str

    @classmethod
    def of(cls, result: ratings.RatingResult, *, deleted: bool = False) -> RatingOut:
        return cls(
            user_id=result.user_id,
            movie_id=result.movie_id,
            rating=result.rating,
            deleted=deleted,
            num_ratings=result.num_ratings,
            vector_source=result.vector_source,
            model_version=result.model_version,
        )


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
    model = await request.app.state.models.current(es, names)
    try:
        result = await ratings.add_rating(es, names, model, user_id, body.movie_id, body.rating)
    except MovieNotFound as exc:
        raise not_found(f"no movie with id {body.movie_id}") from exc
    return RatingOut.of(result)


@router.delete("/{user_id}/ratings/{movie_id}", response_model=RatingOut, dependencies=[WriteAccess])
async def delete_rating(
    request: Request, es: EsDep, names: NamesDep, settings: SettingsDep, user_id: UserId, movie_id: MovieId
) -> RatingOut:
    """Remove a rating and refold the user at once; the deletion is remembered, so a retrain honours it."""
    model = await request.app.state.models.current(es, names)
    mapping = load_mapping(settings.mappings_dir, "deletions")
    try:
        result = await ratings.remove_rating(es, names, model, user_id, movie_id, deletions_mapping=mapping)
    except ratings.RatingNotFound as exc:
        raise not_found(str(exc)) from exc
    return RatingOut.of(result, deleted=True)
