"""The flights' model stage, built by the kit from the flights definition under its published
names: `delay_model_lgbm` and `delay_model_torch` on the same dated split of `training_set`,
`model_evaluation` with the blocking promotion gate, and `champion`."""

from assets import groups
from assets.kit.candidates import window_config
from assets.kit.models import model_assets
from usecases.flights.definition import FLIGHTS

delay_model_lgbm, delay_model_torch, model_evaluation, champion = model_assets(
    FLIGHTS, groups.MODELS
)
# The candidates' run config: the feed's default windows (for 2013: train January to August,
# validate September, test October to December), and for LightGBM where it trains.
ModelWindow, LgbmTraining = window_config(FLIGHTS, "torch"), window_config(FLIGHTS, "lgbm")
