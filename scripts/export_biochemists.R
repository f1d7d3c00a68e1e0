# Regenerate data/biochemists.csv from R's pscl package and print pscl::vuong's reference numbers.
#
#   Rscript scripts/export_biochemists.R
#
# Needs R with pscl (Debian: apt-get install r-cran-pscl; the CSV in data/ was written with pscl 1.5.5).
# The data are written unchanged (factors as their labels), and the test reference is printed:
# vuong(glm(art ~ ., poisson), zeroinfl(art ~ . | 1)) -> raw -3.246221, AIC -3.138987, BIC -2.880611.
suppressPackageStartupMessages(library(pscl))
args <- commandArgs(trailingOnly = FALSE)
script <- normalizePath(sub("^--file=", "", args[grep("^--file=", args)]))
out <- file.path(dirname(dirname(script)), "data", "biochemists.csv")
data("bioChemists", package = "pscl")
write.csv(bioChemists, out, row.names = FALSE)
cat("wrote", out, "(pscl", as.character(packageVersion("pscl")), ")\n")
m1 <- glm(art ~ ., data = bioChemists, family = poisson)
m2 <- zeroinfl(art ~ . | 1, data = bioChemists, dist = "poisson")
vuong(m1, m2, digits = 10)
