## Reference numbers for hessstats' random-effects (Laplace) models, issue 15.
## Run from the repository root:  Rscript data/reference/glmm_lme4.R
## Writes data/cbpp.csv, data/sleepstudy.csv (exported unchanged from lme4),
## data/reference/glmm_crossed_sim.csv (simulated, seed 15), and
## data/reference/glmm_lme4.json (numbers below, with provenance), glmm_timings_R.json.
suppressPackageStartupMessages({library(lme4); library(glmmTMB); library(jsonlite)})
set.seed(15)
out <- list(provenance = list(
  script = "data/reference/glmm_lme4.R", R = R.version.string,
  lme4 = as.character(packageVersion("lme4")), glmmTMB = as.character(packageVersion("glmmTMB")),
  TMB = as.character(packageVersion("TMB")), Matrix = as.character(packageVersion("Matrix")),
  date = format(Sys.time(), tz = "UTC", usetz = TRUE)))
write.csv(transform(cbpp, herd = as.character(herd), period = as.character(period)),
          "data/cbpp.csv", row.names = FALSE)
write.csv(transform(sleepstudy, Subject = as.character(Subject)), "data/sleepstudy.csv", row.names = FALSE)

tm <- function(expr, reps = 5) { e <- substitute(expr); f <- parent.frame()
  ts <- replicate(reps, system.time(eval(e, f))[["elapsed"]]); median(ts) }
fe <- function(fit, se) list(names = names(fixef(fit)), coef = unname(fixef(fit)), se = unname(se))

## cbpp, binomial, Laplace (lme4 default nAGQ = 1)
f1 <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, family = binomial,
            control = glmerControl(optimizer = "bobyqa", optCtrl = list(rhobeg = 0.02, rhoend = 1e-12, maxfun = 1e5)))
out$cbpp_glmer <- c(fe(f1, sqrt(diag(as.matrix(vcov(f1))))),
  list(se_use_hessian_false = unname(sqrt(diag(as.matrix(vcov(f1, use.hessian = FALSE))))),
       herd_sd = unname(attr(VarCorr(f1)$herd, "stddev")), logLik = as.numeric(logLik(f1)),
       ranef = unname(ranef(f1)$herd[, 1]), ranef_levels = rownames(ranef(f1)$herd),
       ranef_condsd = unname(sqrt(attr(ranef(f1, condVar = TRUE)$herd, "postVar")[1, 1, ]))))
f1a <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, family = binomial, nAGQ = 10,
             control = glmerControl(optimizer = "bobyqa", optCtrl = list(rhobeg = 0.02, rhoend = 1e-12, maxfun = 1e5)))
out$cbpp_glmer_nagq10 <- c(fe(f1a, sqrt(diag(as.matrix(vcov(f1a))))),
  list(herd_sd = unname(attr(VarCorr(f1a)$herd, "stddev")), logLik = as.numeric(logLik(f1a))))
g1 <- glmmTMB(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, family = binomial)
out$cbpp_glmmTMB <- c(list(names = names(fixef(g1)$cond), coef = unname(fixef(g1)$cond),
  se = unname(sqrt(diag(vcov(g1)$cond))), herd_sd = unname(attr(VarCorr(g1)$cond$herd, "stddev")),
  logLik = as.numeric(logLik(g1))))

## sleepstudy, Gaussian, ML and REML
s_ml <- lmer(Reaction ~ Days + (Days | Subject), sleepstudy, REML = FALSE)
s_reml <- lmer(Reaction ~ Days + (Days | Subject), sleepstudy, REML = TRUE)
vc <- function(fit) { v <- VarCorr(fit)$Subject
  list(sd = unname(attr(v, "stddev")), corr = attr(v, "correlation")[1, 2], sigma = sigma(fit)) }
out$sleepstudy_ml <- c(fe(s_ml, sqrt(diag(as.matrix(vcov(s_ml))))), vc(s_ml), list(logLik = as.numeric(logLik(s_ml))))
out$sleepstudy_reml <- c(fe(s_reml, sqrt(diag(as.matrix(vcov(s_reml))))), vc(s_reml),
                         list(logLik = as.numeric(logLik(s_reml))))
s_unc <- lmer(Reaction ~ Days + (Days || Subject), sleepstudy, REML = FALSE)
out$sleepstudy_ml_uncorrelated <- c(fe(s_unc, sqrt(diag(as.matrix(vcov(s_unc))))),
  list(sd = unname(c(attr(VarCorr(s_unc)$Subject, "stddev"), attr(VarCorr(s_unc)$Subject.1, "stddev"))),
       sigma = sigma(s_unc), logLik = as.numeric(logLik(s_unc))))

## crossed binomial GLMM, simulated (seed 15): 300 subjects x 25 items = 7500 rows, 325 random effects
ns <- 300; ni <- 25
d <- expand.grid(subject = seq_len(ns), item = seq_len(ni))
d$x <- round(rnorm(nrow(d)), 4)
eta <- -0.5 + 0.8 * d$x + rnorm(ns, sd = 0.7)[d$subject] + rnorm(ni, sd = 0.4)[d$item]
d$y <- rbinom(nrow(d), 1, plogis(eta))
d$subject <- paste0("s", d$subject); d$item <- paste0("i", d$item)
write.csv(d, "data/reference/glmm_crossed_sim.csv", row.names = FALSE)
fc <- glmer(y ~ x + (1 | subject) + (1 | item), d, family = binomial,
            control = glmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5)))
gc <- glmmTMB(y ~ x + (1 | subject) + (1 | item), d, family = binomial)
out$crossed_glmer <- c(fe(fc, sqrt(diag(as.matrix(vcov(fc))))),
  list(sd = unname(c(attr(VarCorr(fc)$subject, "stddev"), attr(VarCorr(fc)$item, "stddev"))),
       logLik = as.numeric(logLik(fc))))
out$crossed_glmmTMB <- list(names = names(fixef(gc)$cond), coef = unname(fixef(gc)$cond),
  se = unname(sqrt(diag(vcov(gc)$cond))),
  sd = unname(c(attr(VarCorr(gc)$cond$subject, "stddev"), attr(VarCorr(gc)$cond$item, "stddev"))),
  logLik = as.numeric(logLik(gc)))

## Poisson with an AR(1) latent log-rate (user-written latent model), simulated in Python (seed 15)
if (file.exists("data/reference/ar1_poisson_sim.csv")) {
  a <- read.csv("data/reference/ar1_poisson_sim.csv")
  a$time <- factor(a$t); a$grp <- factor(1)
  ga <- glmmTMB(y ~ 1 + ar1(time + 0 | grp), a, family = poisson)
  vc_a <- VarCorr(ga)$cond$grp
  out$ar1_poisson_glmmTMB <- list(coef = unname(fixef(ga)$cond), se = unname(sqrt(diag(vcov(ga)$cond))),
    sd = unname(attr(vc_a, "stddev")[1]), phi = unname(attr(vc_a, "correlation")[1, 2]),
    logLik = as.numeric(logLik(ga)), note = "ar1() marginal SD and lag-1 correlation")
}
write(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "data/reference/glmm_lme4.json")

## timings (median of 5 elapsed, seconds; this machine)
ctl <- glmerControl(optimizer = "bobyqa")
out_t <- list(provenance = out$provenance,
  cbpp_glmer = tm(glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, family = binomial, control = ctl)),
  cbpp_glmmTMB = tm(glmmTMB(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, family = binomial)),
  sleepstudy_lmer_ml = tm(lmer(Reaction ~ Days + (Days | Subject), sleepstudy, REML = FALSE)),
  sleepstudy_glmmTMB_ml = tm(glmmTMB(Reaction ~ Days + (Days | Subject), sleepstudy, REML = FALSE)),
  crossed_glmer = tm(glmer(y ~ x + (1 | subject) + (1 | item), d, family = binomial, control = ctl), 3),
  crossed_glmmTMB = tm(glmmTMB(y ~ x + (1 | subject) + (1 | item), d, family = binomial), 3))
write(toJSON(out_t, auto_unbox = TRUE, digits = NA, pretty = TRUE), "data/reference/glmm_timings_R.json")
cat("done\n")

## profile-likelihood interval of the cbpp herd SD (lme4 confint, method = "profile")
ci <- confint(f1, parm = ".sig01", method = "profile")
write(toJSON(list(provenance = out$provenance, cbpp_herd_sd_profile_95 = unname(ci[1, ])),
             auto_unbox = TRUE, digits = NA, pretty = TRUE), "data/reference/glmm_lme4_profile.json")

## counts: Poisson GLMM with an offset (lme4 glmer) and NB2 GLMM (glmmTMB nbinom2), simulated (seed 151)
set.seed(151)
nc <- 40; m <- 12
cnt <- data.frame(g = rep(seq_len(nc), each = m), x = round(rnorm(nc * m), 4), expo = round(runif(nc * m, 0.5, 3), 3))
mu <- cnt$expo * exp(0.3 + 0.5 * cnt$x + rnorm(nc, sd = 0.6)[cnt$g])
cnt$y <- rnbinom(nrow(cnt), mu = mu, size = 2)
cnt$g <- paste0("g", sprintf("%02d", cnt$g))
write.csv(cnt, "data/reference/glmm_counts_sim.csv", row.names = FALSE)
pc <- glmer(y ~ x + (1 | g), cnt, family = poisson, offset = log(expo),
            control = glmerControl(optimizer = "bobyqa", optCtrl = list(rhobeg = 0.02, rhoend = 1e-12, maxfun = 1e5)))
pt <- glmmTMB(y ~ x + (1 | g) + offset(log(expo)), cnt, family = poisson)
nb <- glmmTMB(y ~ x + (1 | g) + offset(log(expo)), cnt, family = nbinom2)
write(toJSON(list(provenance = out$provenance,
  poisson_glmer = list(coef = unname(fixef(pc)), se = unname(sqrt(diag(as.matrix(vcov(pc))))),
                       sd = unname(attr(VarCorr(pc)$g, "stddev")), logLik = as.numeric(logLik(pc))),
  poisson_glmmTMB = list(coef = unname(fixef(pt)$cond), se = unname(sqrt(diag(vcov(pt)$cond))),
                         sd = unname(attr(VarCorr(pt)$cond$g, "stddev")), logLik = as.numeric(logLik(pt))),
  nbinom2_glmmTMB = list(coef = unname(fixef(nb)$cond), se = unname(sqrt(diag(vcov(nb)$cond))),
                         sd = unname(attr(VarCorr(nb)$cond$g, "stddev")), size = sigma(nb),
                         logLik = as.numeric(logLik(nb)))),
  auto_unbox = TRUE, digits = NA, pretty = TRUE), "data/reference/glmm_lme4_counts.json")

## nested: cbpp with (1 | herd/period) (glmmTMB; lme4 agrees to its optimiser accuracy)
nt <- glmmTMB(cbind(incidence, size - incidence) ~ period + (1 | herd/period), cbpp, family = binomial)
write(toJSON(list(provenance = out$provenance,
  cbpp_nested_glmmTMB = list(coef = unname(fixef(nt)$cond), se = unname(sqrt(diag(vcov(nt)$cond))),
    sd_herd = unname(attr(VarCorr(nt)$cond$herd, "stddev")),
    sd_period_in_herd = unname(attr(VarCorr(nt)$cond[["period:herd"]], "stddev")), logLik = as.numeric(logLik(nt)))),
  auto_unbox = TRUE, digits = NA, pretty = TRUE), "data/reference/glmm_lme4_nested.json")
