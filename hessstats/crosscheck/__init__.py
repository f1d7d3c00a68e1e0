"""Checks against statsmodels: side-by-side comparison (``hs.compare``) and the validation cases
run by ``hs.validate`` / ``hessstats validate``."""
