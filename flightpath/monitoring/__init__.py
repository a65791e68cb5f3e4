"""Monitoring: how far the data the models see has drifted from what they were trained on."""
