from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from movierec.modelcard import ModelCard
from movierec.search import consent, privacy, ratings, recommend
from movierec.search.ratings import ModelUnavailable
from movierec.service import deps
from movierec.service.deps import EsDep, MovieId, NamesDep, PersonalDataAccess, SettingsDep, UserId, WriteAccess
from movierec.service.schemas import (
    ConsentIn,
    ConsentOut,
    ErasureOut,
    RatingIn,
    RatingOut,
    UserExport,
    UserRecommendationResponse,
)

router = APIRouter(prefix="/users", tags=["users"])


async def serving_model(request: Request, es: EsDep, names: NamesDep) -> ModelCard | None:
    """The serving model's card, or None before any (privacy requests work without one)."""
    try:
        return await request.app.state.models.current(es, names)
    except ModelUnavailable:
        return None


@router.get("/{user_id}/recommendations", response_model=UserRecommendationResponse, dependencies=[PersonalDataAccess])
async def user_recommendations(
    es: EsDep,
    names: NamesDep,
    settings: SettingsDep,
    user_id: UserId,
    k: Annotated[int, Query(ge=1, le=100)] = 10,
    diversity: deps.Diversity = 0.0,
) -> UserRecommendationResponse:
    """kNN with the user's vector, rated movies excluded; popular movies without a vector or consent.

    They reveal the user's tastes: with MOVIEREC_API_KEY set, they need `X-API-Key`."""
    result = await recommend.for_user(
        es, names, user_id, k=k, consent_default=settings.consent_default, diversity=diversity
    )
    return UserRecommendationResponse(
        user_id=user_id, source=result.source, reason=result.reason, recommendations=result.recommendations
    )


@router.post("/{user_id}/ratings", response_model=RatingOut, dependencies=[WriteAccess])
async def rate_movie(
    request: Request, es: EsDep, names: NamesDep, settings: SettingsDep, user_id: UserId, body: RatingIn
) -> RatingOut:
    """Store a rating and fold it into the user's vector at once: the next recommendations reflect it."""
    model = await request.app.state.models.current(es, names)
    queue = request.app.state.writes
    result = await ratings.add_rating(
        es,
        names,
        model,
        user_id,
        body.movie_id,
        body.rating,
        consent_default=settings.consent_default,
        queue=queue,
        live_updates=settings.live_updates,
    )
    return RatingOut.of(result)


@router.delete("/{user_id}/ratings/{movie_id}", response_model=RatingOut, dependencies=[WriteAccess])
async def delete_rating(
    request: Request, es: EsDep, names: NamesDep, settings: SettingsDep, user_id: UserId, movie_id: MovieId
) -> RatingOut:
    """Remove a rating and refold the user at once; the deletion is remembered, so a retrain honours it."""
    model = await request.app.state.models.current(es, names)
    queue = request.app.state.writes
    result = await ratings.remove_rating(
        es,
        names,
        model,
        user_id,
        movie_id,
        consent_default=settings.consent_default,
        queue=queue,
        live_updates=settings.live_updates,
    )
    return RatingOut.of(result, deleted=True)


@router.delete("/{user_id}", response_model=ErasureOut, dependencies=[WriteAccess], tags=["privacy"])
async def erase_user(request: Request, es: EsDep, names: NamesDep, user_id: UserId) -> ErasureOut:
    """Right to erasure: the user's profile, vector and ratings, in every kept version (and their part of
    the movies' live statistics and audience vectors, at once); retraining honours it."""
    model = await serving_model(request, es, names)
    return ErasureOut(**vars(await privacy.erase_user(es, names, user_id, model=model)))


@router.get("/{user_id}/export", response_model=UserExport, dependencies=[PersonalDataAccess], tags=["privacy"])
async def export_user(es: EsDep, names: NamesDep, user_id: UserId) -> UserExport:
    """Data portability: the user's profile, vector, ratings and deletion requests, as JSON."""
    return UserExport(**await privacy.export_user(es, names, user_id))


@router.get("/{user_id}/consent", response_model=ConsentOut, dependencies=[PersonalDataAccess], tags=["privacy"])
async def get_consent(es: EsDep, names: NamesDep, settings: SettingsDep, user_id: UserId) -> ConsentOut:
    """The user's choice about personalisation, or the default when they made none."""
    return ConsentOut(**vars(await consent.get_consent(es, names, user_id, default=settings.consent_default)))


@router.put("/{user_id}/consent", response_model=ConsentOut, dependencies=[WriteAccess], tags=["privacy"])
async def put_consent(
    request: Request, es: EsDep, names: NamesDep, settings: SettingsDep, user_id: UserId, body: ConsentIn
) -> ConsentOut:
    """Record the choice. Withdrawing removes the user's vector at once; granting folds their ratings in at once."""
    recorded = await consent.record_consent(
        es, names, user_id, body.personalisation, model=await serving_model(request, es, names)
    )
    if body.personalisation and await ratings.has_ratings(es, names, user_id):
        model = await request.app.state.models.current(es, names)
        await ratings.refold_user(es, names, model, user_id)
    return ConsentOut(**vars(recorded))
