"""What `POST /predict` accepts and answers; malformed input fails here, as a 400 naming it."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from pydantic import AwareDatetime, BaseModel, Field, StrictInt, ValidationInfo, field_validator

from flightpath.codes import AIRPORT_PATTERN, TAILNUM_PATTERN
from flightpath.feed_calendar import FEED
from flightpath.models.features import LATE_MINUTES

MAX_FLIGHTS = 500  # per request: larger batches belong to `batch_predictions`
# Any departure between these is answered from whatever the store holds, `features_as_of` and
# `stale` saying how old that is; one further out is a mistake (a wrong year, a unit slip).
# Airlines sell seats up to about a year ahead.
YEAR_BEFORE_THE_FEED = datetime.combine(FEED.first_day - timedelta(days=366), time(), FEED.zone)
MAX_DAYS_AHEAD = 366


def time_bounds(now: datetime) -> tuple[datetime, datetime]:
    """The earliest and the latest scheduled departure the service answers for, at `now`."""
    return YEAR_BEFORE_THE_FEED, now + timedelta(days=MAX_DAYS_AHEAD)


class Flight(BaseModel):
    carrier: str = Field(pattern=r"^[A-Z0-9]{2}$", examples=["UA"])
    flight: StrictInt = Field(ge=1, le=9999, examples=[1545])  # true is not flight 1
    tailnum: str = Field(pattern=TAILNUM_PATTERN, examples=["N14228"])  # the lake's rule too
    origin: str = Field(pattern=AIRPORT_PATTERN, examples=["EWR"])
    dest: str = Field(pattern=AIRPORT_PATTERN, examples=["IAH"])
    sched_dep: AwareDatetime = Field(
        description="scheduled departure with its UTC offset",
        examples=["2013-01-31T06:15:00-05:00"],
    )
    # NaN and infinity are refused as what they are, not as "greater than 6000".
    distance: float | None = Field(
        default=None, gt=0, le=6000, allow_inf_nan=False, description="miles (logged)"
    )

    @field_validator("origin")
    @classmethod
    def _a_feed_origin(cls, origin: str) -> str:
        if origin not in FEED.origins:
            raise ValueError(f"unknown origin airport {origin}: flights leave from {FEED.origins}")
        return origin

    @field_validator("dest")
    @classmethod
    def _elsewhere(cls, dest: str, info: ValidationInfo) -> str:
        if dest == info.data.get("origin"):
            raise ValueError(f"destination {dest} is the origin: a flight lands elsewhere")
        return dest

    @field_validator("sched_dep")
    @classmethod
    def _in_range(cls, sched_dep: datetime) -> datetime:
        earliest, latest = time_bounds(datetime.now(UTC))
        if not earliest <= sched_dep <= latest:
            raise ValueError(f"scheduled departure {sched_dep.isoformat()} is outside the feed "
                             f"(a year before its start to {MAX_DAYS_AHEAD} days from now: "
                             f"{earliest.date()} .. {latest.date()})")  # fmt: skip
        return sched_dep


class Prediction(BaseModel):
    flight_id: str
    probability: float = Field(description=f"of arriving more than {LATE_MINUTES} minutes late")
    delayed: bool = Field(description="probability >= the service's threshold")
    model: str = Field(description="the model tag that answered")
    role: str = Field(description="champion, or canary when the challenger answered")
    features_as_of: dict[str, str | None] = Field(
        description="when each view's values were computed"
    )
    degraded: bool = Field(description="some features were missing and fell back (see `missing`)")
    missing: list[str] = Field(default_factory=list)
    features_age_hours: dict[str, float | None] = Field(
        default_factory=dict,
        description="per view, hours from when its values were computed to the departure; "
        "negative: computed after the departure",
    )
    stale: bool = Field(
        default=False,
        description="some view's values were computed after the departure, or longer before it "
        "than the service's limit (FLIGHTPATH_MAX_FEATURE_AGE_HOURS): see `stale_views`",
    )
    stale_views: list[str] = Field(default_factory=list)
    contributions: dict[str, float] | None = Field(
        default=None, description="the top features' contributions in log-odds (explain=true)"
    )


class Predictions(BaseModel):
    request_id: str
    threshold: float
    predictions: list[Prediction]
