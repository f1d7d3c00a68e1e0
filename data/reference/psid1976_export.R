# Export Mroz's (1987) PSID 1975 data for hs.heckman.
# Run from the repository root:  Rscript data/reference/psid1976_export.R
# Writes data/psid1976.csv: AER's PSID1976 (753 rows x 21 columns), exported unchanged (factors as labels).
# The reference for hs.heckman on it is computed in Python (hessstats.crosscheck.cases, case heckman_psid1976:
# statsmodels GenericLikelihoodModel + numdifftools), because R's sampleSelection is not installed here.
suppressPackageStartupMessages(library(AER))
data("PSID1976", package = "AER")
write.csv(PSID1976, "data/psid1976.csv", row.names = FALSE)
cat(R.version.string, " AER", as.character(packageVersion("AER")), "\n")
