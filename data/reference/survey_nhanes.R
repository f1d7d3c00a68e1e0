# Reference values for hessstats survey designs (issue 12): R survey::svyglm on NHANES II.
# Regenerate from the repository root:  Rscript data/reference/survey_nhanes.R
# Writes data/reference/survey_nhanes.json (tests read that file; they never call R).
# Data: data/nhanes2.csv (samplics 0.6.1, MIT licence; see data/README.md).
suppressMessages({library(survey); library(jsonlite)})
nh <- read.csv("data/nhanes2.csv")
nh$race <- factor(nh$race)

fit_case <- function(name, formula, design, note) {
  fit <- svyglm(formula, design = design, family = quasibinomial())
  V <- vcov(fit)
  s <- summary(fit)
  list(name = name, note = note, formula = deparse(formula),
       coef = as.list(coef(fit)), se = as.list(sqrt(diag(V))),
       vcov = unname(V), names = names(coef(fit)),
       degf = degf(design), df_residual_summary = fit$df.residual,
       p_value_summary = as.list(s$coefficients[, 4]),
       lonely_psu = getOption("survey.lonely.psu"))
}

cases <- list()
# 1. the issue's target: stratified, PSUs nested in strata, probability weights
des <- svydesign(id = ~psuid, strata = ~stratid, weights = ~finalwgt, nest = TRUE, data = nh)
cases[[1]] <- fit_case("main", highbp ~ race + diabetes, des,
                       "svydesign(id=~psuid, strata=~stratid, weights=~finalwgt, nest=TRUE); quasibinomial")

# 2. finite population correction: population PSU count per stratum = 20 (sampling fraction 2/20)
nh$fpc_psu <- 20
des_fpc <- svydesign(id = ~psuid, strata = ~stratid, weights = ~finalwgt, nest = TRUE, fpc = ~fpc_psu, data = nh)
cases[[2]] <- fit_case("fpc", highbp ~ race + diabetes, des_fpc,
                       "as main, fpc=~fpc_psu with fpc_psu = 20 PSUs in every stratum's population")

# 3. lonely PSUs: drop PSU 2 of strata 1 and 2 (those strata keep one PSU)
lonely <- subset(nh, !(stratid %in% c(1, 2) & psuid == 2))
for (rule in c("remove", "adjust", "certainty", "average")) {
  options(survey.lonely.psu = rule)
  des_l <- svydesign(id = ~psuid, strata = ~stratid, weights = ~finalwgt, nest = TRUE, data = lonely)
  cases[[length(cases) + 1]] <- fit_case(paste0("lonely_", rule), highbp ~ race + diabetes, des_l,
    paste0("rows of PSU 2 in strata 1 and 2 dropped from the data; options(survey.lonely.psu='", rule, "')"))
}
options(survey.lonely.psu = "fail")

# 4. domain (subpopulation): subset(design, race != 3) keeps the full design (zero weights elsewhere)
des_sub <- subset(des, race != "3")
cases[[length(cases) + 1]] <- fit_case("subset", highbp ~ race + diabetes, des_sub,
                                       "subset(main design, race != 3): a domain analysis")

out <- list(provenance = list(
  generated_by = "data/reference/survey_nhanes.R",
  r_version = R.version.string,
  survey_version = as.character(packageVersion("survey")),
  jsonlite_version = as.character(packageVersion("jsonlite")),
  date = format(Sys.time(), "%Y-%m-%d %H:%M:%S %Z"),
  data = "data/nhanes2.csv (samplics 0.6.1, samplics/datasets/data/nhanes2.csv, MIT)"),
  cases = cases)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "data/reference/survey_nhanes.json")
