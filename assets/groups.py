"""Asset groups, in lineage order.

The UI lists groups by name (natural order: 2 before 10), so each name starts with its place in
the lineage: a reader scans them from the feed to the monitoring of served predictions.
"""

REFERENCE = "1_reference"  # the feed's reference tables, landed once; airports with time zones
INGESTION = "2_ingestion"  # each landed day copied into the lake, checked on arrival
VALIDATION = "3_validation"  # typed, deduplicated rows and the quarantine
FEATURES = "4_features"  # point-in-time features, Feast's registry, training set, online store
MODELS = "5_models"  # candidates, their evaluation, the champion
SERVING = "6_serving"  # the service's bento and batch predictions
MONITORING = "7_monitoring"  # drift and live performance of the champion

IN_LINEAGE_ORDER = (REFERENCE, INGESTION, VALIDATION, FEATURES, MODELS, SERVING, MONITORING)
