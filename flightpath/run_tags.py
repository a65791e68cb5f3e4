"""Run tags of a retraining: why, on which day's alert, through which feed day, what asked."""

REASON = "flightpath/retrain_reason"
ALERT_DAY = "flightpath/alert_day"
THROUGH = "flightpath/retrain_through"
TRIGGER = "flightpath/trigger"
# On every run of a job that trains and promotes; deploy/dagster.yaml queues them one at a time.
RETRAINING = "flightpath/retraining"
