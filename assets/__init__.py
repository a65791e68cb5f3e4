"""Software-defined assets, one module per lifecycle stage."""

import warnings

import dagster as dg

# Partitioned asset checks and single-run backfills are Dagster preview / beta features we use
# on purpose, on the version we pin (1.13): their warnings, printed at every load of the code
# location, are not the user's concern.
warnings.filterwarnings("ignore", category=dg.PreviewWarning)
warnings.filterwarnings("ignore", category=dg.BetaWarning)
