"""`champion`: the registry alias the service serves, moved only through the gate: the kit's
promotion, under the flights use case's keys and its unprefixed aliases."""

import dagster as dg

from assets.kit.models import promotion_asset
from assets.models.evaluation import model_evaluation
from assets.models.training import GROUP
from flightpath.models.registry import CHALLENGER, CHAMPION

champion = promotion_asset(
    dg.AssetKey("champion"),
    model_evaluation.key,
    GROUP,
    (CHAMPION, CHALLENGER),
    "flightpath models rollback",
)
