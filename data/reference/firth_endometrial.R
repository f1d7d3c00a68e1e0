# Reference numbers for hs.firth_logit on the endometrial data (Heinze & Schemper 2002).
# Run from the repository root:  Rscript data/reference/firth_endometrial.R
# Writes data/endometrial.csv (brglm2's `endometrial`, 79 rows) and data/reference/firth_endometrial.json.
# Estimates and standard errors: brglm2::brglmFit(type = "AS_mean") (= Firth 1993 for the logit link);
# brglm2's SEs are sqrt(diag(solve(I(b)))) with I the (unpenalised) expected = observed Fisher information
# of the logit at the estimate, as logistf reports them.
# Profile penalised-likelihood intervals (logistf's default, which is not installed here): for each
# coefficient j, the values b_j where 2 (l*(bhat) - max_{b_-j} l*(b)) = qchisq(0.95, 1), with
# l*(b) = l(b) + 0.5 log det I(b) and I the full k x k information (logistf's definition); the inner
# maximisation by Newton on l* with numerical derivatives of the exact penalised log-likelihood (optim BFGS,
# reltol 1e-15, then polished), the root by uniroot(tol = 1e-12).
suppressPackageStartupMessages(library(brglm2))
data("endometrial", package = "brglm2")
write.csv(endometrial, "data/endometrial.csv", row.names = FALSE)
fit <- glm(HG ~ NV + PI + EH, data = endometrial, family = binomial("logit"), method = "brglmFit", type = "AS_mean",
           epsilon = 1e-14, maxit = 1000)
est <- coef(fit); se <- sqrt(diag(vcov(fit)))
X <- model.matrix(fit); y <- endometrial$HG
pl <- function(b) {
  eta <- drop(X %*% b); p <- plogis(eta)
  sum(y * plogis(eta, log.p = TRUE) + (1 - y) * plogis(-eta, log.p = TRUE)) +
    0.5 * as.numeric(determinant(crossprod(X * sqrt(p * (1 - p))), logarithm = TRUE)$modulus)
}
lmax <- pl(est)
crit <- qchisq(0.95, 1)
profile_at <- function(j, v) {
  f <- function(r) { b <- numeric(length(est)); b[j] <- v; b[-j] <- r; -pl(b) }
  o <- optim(est[-j], f, method = "BFGS", control = list(reltol = 1e-15, maxit = 10000))
  o <- optim(o$par, f, method = "Nelder-Mead", control = list(reltol = 1e-16, maxit = 20000))
  o <- optim(o$par, f, method = "BFGS", control = list(reltol = 1e-16, maxit = 10000))
  2 * (lmax + o$value) - crit
}
ci <- t(sapply(seq_along(est), function(j) {
  lo <- uniroot(function(v) profile_at(j, v), c(est[j] - 8 * se[j], est[j]), tol = 1e-12)$root
  hi <- uniroot(function(v) profile_at(j, v), c(est[j], est[j] + 8 * se[j]), tol = 1e-12)$root
  c(lo, hi)
}))
out <- list(
  source = "R brglm2::brglmFit(type='AS_mean') on brglm2's endometrial data; profile penalised-likelihood intervals by hand (see script)",
  script = "data/reference/firth_endometrial.R",
  R = R.version.string, brglm2 = as.character(packageVersion("brglm2")), date = as.character(Sys.Date()),
  names = names(est), params = unname(est), bse = unname(se), cov = unname(vcov(fit)), penalised_loglik = lmax,
  loglik = as.numeric(logLik(fit)), profile_lower = ci[, 1], profile_upper = ci[, 2], level = 0.95)
writeLines(jsonlite::toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "data/reference/firth_endometrial.json")
print(cbind(est, se, ci))
