from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from movierec.search import consent, privacy, ratings, recommend
from movierec.search.domain import VectorSource
from movierec.search.indices import load_mapping
from movierec.service.deps import EsDep, MovieId, NamesDep, PersonalDataAccess, SettingsDep, UserId, WriteAccess
from movierec.service.schemas import UserRecommendationResponse

router = APIRouter(prefix="/users", tags=["users"])


class RatingIn(BaseModel):
    movie_id: int = Field(ge=1, le=2**31 - 1, examples=[1])
    rating: float = Field(ge=0.5, le=5.0, examples=[4.5], description="0.5 to 5.0 stars")


class RatingOut(BaseModel):
    user_id: int
    movie_id: int
    rating: float = Field(description="the rating stored, or the one deleted")
    deleted: bool = False
    num_ratings: int = Field(description="the user's ratings now")
    vector_source: VectorSource = Field(
        description="`fold-in`: recomputed from every rating; `none`: no rating left; `no-consent`: withheld"
    )
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
    es: EsDep, names: NamesDep, settings: SettingsDep, user_id: UserId, k: Annotated[int, Query(ge=1, le=100)] = 10
) -> UserRecommendationResponse:
    """kNN with the user's vector, rated movies excluded; popular movies without a vector or consent."""
    recs, source, reason = await recommend.for_user(es, names, user_id, k=k, consent_default=settings.consent_default)
    return UserRecommendationResponse(user_id=user_id, source=source, reason=reason, recommendations=recs)


@router.post("/{user_id}/ratings", response_model=RatingOut, dependencies=[WriteAccess])
async def rate_movie(
    request: Request, es: EsDep, names: NamesDep, settings: SettingsDep, user_id: UserId, body: RatingIn
) -> RatingOut:
    """Store a rating and fold it into the user's vector at once: the next recommendations reflect it."""
    model = await request.app.state.models.current(es, names)
    result = await ratings.add_rating(
        es, names, model, user_id, body.movie_id, body.rating, consent_default=settings.consent_default
    )
    return RatingOut.of(result)


@router.delete("/{user_id}/ratings/{movie_id}", response_model=RatingOut, dependencies=[WriteAccess])
async def delete_rating(
    request: Request, es: EsDep, names: NamesDep, settings: SettingsDep, user_id: UserId, movie_id: MovieId
) -> RatingOut:
    """Remove a rating and refold the user at once; the deletion is remembered, so a retrain honours it."""
    model = await request.app.state.models.current(es, names)
    mapping = load_mapping("deletions")
    result = await ratings.remove_rating(
        es, names, model, user_id, movie_id, deletions_mapping=mapping, consent_default=settings.consent_default
    )
    return RatingOut.of(result, deleted=True)


class ErasureOut(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "user_id": 1,
                    "ratings_deleted": 464,
                    "user_documents_deleted": 2,
                    "indices_searched": [
                        "movierec-ratings-v20261125010216-c75e",
                        "movierec-ratings-v20261125022602-728b",
                        "movierec-users-v20261125010216-c75e",
                        "movierec-users-v20261125022602-728b",
                    ],
                    "erased_at": 1764037200,
                }
            ]
        }
    }

    user_id: int
    ratings_deleted: int = Field(description="rating documents removed, over every kept version")
    user_documents_deleted: int
    indices_searched: list[str]
    erased_at: int = Field(description="epoch seconds; later pipeline runs drop the user's older rows")


@router.delete("/{user_id}", response_model=ErasureOut, dependencies=[WriteAccess], tags=["privacy"])
async def erase_user(es: EsDep, names: NamesDep, settings: SettingsDep, user_id: UserId) -> ErasureOut:
    """Right to erasure: the user's profile, vector and ratings, in every kept version; retraining honours it."""
    mapping = load_mapping("deletions")
    erasure = await privacy.erase_user(es, names, user_id, deletions_mapping=mapping)
    return ErasureOut(**vars(erasure))


class UserExport(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "user_id": 1,
                    "exported_at": 1764037200,
                    "profile": {"user_id": 1, "num_ratings": 232, "avg_rating": 4.37, "user_vector": [0.12, -0.03]},
                    "consent": {"user_id": 1, "personalisation": True, "updated_at": 1764037000},
                    "ratings": [{"user_id": 1, "movie_id": 1, "rating": 4.0, "date": 964982703, "source": "movielens"}],
                    "deletions": [{"kind": "rating", "user_id": 1, "movie_id": 3, "date": 1764037100}],
                }
            ]
        }
    }

    user_id: int
    exported_at: int
    profile: dict | None = Field(description="the user document of the serving version, vector included")
    consent: dict | None = Field(None, description="the recorded consent choice, if any")
    ratings: list[dict]
    deletions: list[dict] = Field(description="ratings the user deleted (kept so retraining honours them)")


@router.get("/{user_id}/export", response_model=UserExport, dependencies=[PersonalDataAccess], tags=["privacy"])
async def export_user(es: EsDep, names: NamesDep, user_id: UserId) -> UserExport:
    """Data portability: the user's profile, vector, ratings and deletion requests, as JSON."""
    return UserExport(**await privacy.export_user(es, names, user_id))


class ConsentIn(BaseModel):
    personalisation: bool = Field(examples=[False], description="may a taste profile (vector) be computed and used?")


class ConsentOut(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [{"user_id": 1, "personalisation": False, "recorded": True, "updated_at": 1764037200}]
        }
    }

    user_id: int
    personalisation: bool
    recorded: bool = Field(description="false: no choice recorded, the deployment's default applies")
    updated_at: int | None = None


@router.get("/{user_id}/consent", response_model=ConsentOut, dependencies=[PersonalDataAccess], tags=["privacy"])
async def get_consent(es: EsDep, names: NamesDep, settings: SettingsDep, user_id: UserId) -> ConsentOut:
    """The user's choice about personalisation, or the default when they made none."""
    return ConsentOut(**vars(await consent.get_consent(es, names, user_id, default=settings.consent_default)))


@router.put("/{user_id}/consent", response_model=ConsentOut, dependencies=[WriteAccess], tags=["privacy"])
async def put_consent(
    request: Request, es: EsDep, names: NamesDep, settings: SettingsDep, user_id: UserId, body: ConsentIn
) -> ConsentOut:
    """Record the choice. Withdrawing removes the user's vector at once; granting folds their ratings in at once."""
    mapping = load_mapping("consents")
    recorded = await consent.record_consent(es, names, user_id, body.personalisation, mapping=mapping)
    if body.personalisation and await ratings.has_ratings(es, names, user_id):
        model = await request.app.state.models.current(es, names)
        await ratings.refold_user(es, names, model, user_id)
    return ConsentOut(**vars(recorded))
