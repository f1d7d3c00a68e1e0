# Reference covariances from R's sandwich package for the covariance-family tests (issue 12).
#   Rscript data/reference/sandwich_petersen.R        (from the repository root)
# Writes data/petersen.csv (sandwich::PetersenCL, unchanged) and data/reference/sandwich_petersen.json.
# Tests read the frozen files; they never call R.
suppressMessages({library(sandwich); library(jsonlite)})
data(PetersenCL, package = "sandwich")
write.csv(PetersenCL, "data/petersen.csv", row.names = FALSE)

se <- function(v) as.list(sqrt(diag(v)))
cov_list <- function(v) unname(lapply(seq_len(nrow(v)), function(i) unname(v[i, ])))

# --- PetersenCL: OLS y ~ x, one- and two-way clustering (vcovCL default: type = "HC1", cadjust = TRUE)
p <- lm(y ~ x, data = PetersenCL)
petersen <- list(
  formula = "y ~ x", coef = as.list(coef(p)),
  vcovCL_firm = cov_list(vcovCL(p, cluster = ~firm)),
  vcovCL_year = cov_list(vcovCL(p, cluster = ~year)),
  vcovCL_firm_year = cov_list(vcovCL(p, cluster = ~firm + year)),
  vcovCL_firm_HC0 = cov_list(vcovCL(p, cluster = ~firm, type = "HC0")),
  vcovHC_HC0 = cov_list(vcovHC(p, type = "HC0")), vcovHC_HC1 = cov_list(vcovHC(p, type = "HC1")),
  vcovHC_HC2 = cov_list(vcovHC(p, type = "HC2")), vcovHC_HC3 = cov_list(vcovHC(p, type = "HC3")),
  # Driscoll-Kraay: scores summed by year, Bartlett kernel with lag 2, no adjustment / n/(n-k)
  vcovPL_year_lag2 = cov_list(vcovPL(p, cluster = ~firm, order.by = ~year, lag = 2, adjust = FALSE)),
  vcovPL_year_lag2_adjust = cov_list(vcovPL(p, cluster = ~firm, order.by = ~year, lag = 2, adjust = TRUE)))

# --- Longley (data/longley.csv, rows in time order): Newey-West without prewhitening
longley <- read.csv("data/longley.csv")
l <- lm(TOTEMP ~ GNP + POP, data = longley)
longley_nw <- list(
  formula = "TOTEMP ~ GNP + POP", coef = as.list(coef(l)),
  NeweyWest_lag2 = cov_list(NeweyWest(l, lag = 2, prewhite = FALSE, adjust = FALSE)),
  NeweyWest_lag2_adjust = cov_list(NeweyWest(l, lag = 2, prewhite = FALSE, adjust = TRUE)))

# --- Spector logit (canonical link): vcovHC HC0..HC3 use the IRLS hat values
spector <- read.csv("data/spector.csv")
g <- glm(GRADE ~ GPA + TUCE + PSI, family = binomial, data = spector, control = glm.control(epsilon = 1e-14, maxit = 100))
logit <- list(formula = "GRADE ~ GPA + TUCE + PSI", coef = as.list(coef(g)),
              vcovHC_HC0 = cov_list(vcovHC(g, type = "HC0")), vcovHC_HC1 = cov_list(vcovHC(g, type = "HC1")),
              vcovHC_HC2 = cov_list(vcovHC(g, type = "HC2")), vcovHC_HC3 = cov_list(vcovHC(g, type = "HC3")))

# --- Scotland Gamma(log) GLM: summary.glm SEs (Pearson dispersion, t on df.residual)
scotland <- read.csv("data/scotland.csv")
gm <- glm(YES ~ COUTAX + UNEMPF, family = Gamma(link = "log"), data = scotland,
          control = glm.control(epsilon = 1e-14, maxit = 100))
sg <- summary(gm)
gamma <- list(formula = "YES ~ COUTAX + UNEMPF", coef = as.list(coef(gm)), dispersion = sg$dispersion,
              se = as.list(sg$coefficients[, 2]), t = as.list(sg$coefficients[, 3]),
              p = as.list(sg$coefficients[, 4]), df_residual = gm$df.residual)

# --- quasi-families (Pearson dispersion): star98 binomial counts, first 3000 rows of randhie Poisson
star98 <- read.csv("data/star98.csv")
qb <- glm(cbind(NABOVE, NBELOW) ~ LOWINC + PERASIAN + PERBLACK + PERHISP + PCTCHRT, family = quasibinomial,
          data = star98, control = glm.control(epsilon = 1e-14, maxit = 100))
randhie <- read.csv("data/randhie.csv")[1:3000, ]
qp <- glm(mdvis ~ lncoins + idp + physlm, family = quasipoisson, data = randhie,
          control = glm.control(epsilon = 1e-14, maxit = 100))
quasi <- function(g) { s <- summary(g); list(coef = as.list(coef(g)), dispersion = s$dispersion,
  se = as.list(s$coefficients[, 2]), p = as.list(s$coefficients[, 4]), df_residual = g$df.residual) }

out <- list(
  provenance = list(
    script = "data/reference/sandwich_petersen.R", r_version = R.version.string,
    sandwich_version = as.character(packageVersion("sandwich")), date = format(Sys.time(), "%Y-%m-%d"),
    note = paste("covariance matrices as nested lists (rows), in the order of coef;",
                 "PetersenCL: Petersen (2009) simulated test data, shipped by sandwich (GPL-2 | GPL-3)")),
  petersen = petersen, longley = longley_nw, logit_spector = logit, gamma_scotland = gamma,
  quasibinomial_star98 = quasi(qb), quasipoisson_randhie = quasi(qp))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "data/reference/sandwich_petersen.json")
