"""Run tags of a retraining: why, on which day's alert, through which feed day, what asked."""

REASON = "flightpath/retrain_reason"
ALERT_DAY = "flightpath/alert_day"
THROUGH = "flightpath/retrain_through"
TRIGGER = "flightpath/trigger"
